//! The OpenAPI document (`/openapi.json`): the paths and schemas the handlers declare,
//! plus what every operation shares and would be noise to repeat on each: the security
//! headers of §2, and the error answers (their statuses and shapes, §3).

use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::OneOfBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// The security schemes a call under `/data/` needs, all at once.
const SCHEMES: [(&str, &str); 3] = [
    ("apiKey", "x-api-key"),
    ("org", "x-gw-ims-org-id"),
    ("sandbox", "x-sandbox-name"),
];

/// Adds the security schemes, to every operation the error answers it can give, and links
/// from each create to the item it made.
pub fn complete(openapi: &mut OpenApi) {
    link_creates(openapi);
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    for (name, header) in SCHEMES {
        components.add_security_scheme(name, SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(header))));
    }
    for (path, item) in openapi.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            if path.starts_with("/data/") {
                let names = ["bearer", "apiKey", "org", "sandbox"];
                let requirement = names.iter().fold(SecurityRequirement::default(), |r, name| {
                    r.add::<&str, [&str; 0], &str>(name, [])
                });
                operation.security = Some(vec![requirement]);
                add_errors(operation, true);
            } else if path.starts_with("/ims/") {
                add_errors(operation, false);
            }
        }
    }
}

/// The document as JSON. utoipa 5.5 writes a link's fields in snake case
/// (`operation_ref`); OpenAPI spells them in camel case, which this puts right.
pub fn to_json(openapi: &OpenApi) -> serde_json::Value {
    let mut value = serde_json::to_value(openapi).expect("the document serialises");
    if let Some(paths) = value.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for operation in paths
            .values_mut()
            .filter_map(|p| p.as_object_mut())
            .flat_map(|p| p.values_mut())
        {
            let responses = operation.get_mut("responses").and_then(|r| r.as_object_mut());
            for response in responses.into_iter().flat_map(|r| r.values_mut()) {
                let links = response.get_mut("links").and_then(|l| l.as_object_mut());
                for link in links
                    .into_iter()
                    .flat_map(|l| l.values_mut())
                    .filter_map(|l| l.as_object_mut())
                {
                    for (snake, camel) in [
                        ("operation_ref", "operationRef"),
                        ("operation_id", "operationId"),
                        ("request_body", "requestBody"),
                    ] {
                        if let Some(field) = link.remove(snake) {
                            link.insert(camel.to_string(), field);
                        }
                    }
                }
            }
        }
    }
    value
}

/// `POST <collection>` answers the new item's `id`: its `201` links to the item's
/// operations, so clients (and testers) can follow it.
fn link_creates(openapi: &mut OpenApi) {
    let collections: Vec<String> = openapi.paths.paths.keys().cloned().collect();
    for collection in collections {
        let item_path = format!("{collection}/{{id}}");
        let Some(item) = openapi.paths.paths.get(&item_path) else {
            continue;
        };
        let targets: Vec<(&str, String)> = [("get", &item.get), ("patch", &item.patch), ("delete", &item.delete)]
            .into_iter()
            .filter(|(_, operation)| operation.is_some())
            .map(|(method, _)| {
                (
                    method,
                    format!("#/paths/{}/{method}", item_path.replace('~', "~0").replace('/', "~1")),
                )
            })
            .collect();
        let Some(create) = openapi.paths.paths.get_mut(&collection).and_then(|c| c.post.as_mut()) else {
            continue;
        };
        let Some(RefOr::T(created)) = create.responses.responses.get_mut("201") else {
            continue;
        };
        for (method, operation_ref) in targets {
            let link = LinkBuilder::new()
                .operation_ref(operation_ref)
                .parameter("id", "$response.body#/id")
                .build();
            created.links.insert(method.to_string(), RefOr::T(link));
        }
    }
}

/// The statuses every operation may answer with, and what each means.
fn add_errors(operation: &mut Operation, gateway: bool) {
    let mut errors = vec![
        ("413", "The body is larger than the server accepts", flow_error()),
        ("415", "A body without Content-Type: application/json", flow_error()),
        (
            "500",
            "Inlet failed; the request id finds the cause in its log",
            flow_error(),
        ),
    ];
    if gateway {
        errors.extend([
            (
                "400",
                "The request is not valid: the message and `report.details` say why",
                flow_or_gateway(),
            ),
            ("401", "The token is missing, forged or expired", gateway_error()),
            ("403", "The api key or the org is not the token's", gateway_error()),
            ("404", "No such resource in the caller's org and sandbox", flow_error()),
            ("405", "The method is not allowed on this path", flow_error()),
            ("409", "Another change came first, or the name is taken", flow_error()),
            ("412", "`If-Match` is not the current etag", flow_error()),
            ("429", "Too many source checks for the org; retry later", flow_error()),
            ("502", "The source database could not be reached", flow_error()),
        ]);
    }
    for (status, description, schema) in errors {
        let content = ContentBuilder::new().schema(Some(schema)).build();
        let response = ResponseBuilder::new()
            .description(description)
            .content("application/json", content);
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(response.build()));
    }
}

fn flow_error() -> RefOr<utoipa::openapi::schema::Schema> {
    RefOr::Ref(Ref::from_schema_name("FlowErrorBody"))
}

fn gateway_error() -> RefOr<utoipa::openapi::schema::Schema> {
    RefOr::Ref(Ref::from_schema_name("GatewayErrorBody"))
}

/// A 400 is the gateway's when the org header is missing, Flow Service's otherwise.
fn flow_or_gateway() -> RefOr<utoipa::openapi::schema::Schema> {
    let one_of = OneOfBuilder::new().item(flow_error()).item(gateway_error());
    RefOr::T(utoipa::openapi::schema::Schema::OneOf(one_of.build()))
}
