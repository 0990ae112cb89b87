//! The CLI's side of the pin API (`tollgate mcp tools|approve`), on the admin client.

use serde_json::Value;

use super::api::ApproveBody;
use crate::keys::client::{segment, AdminClient, ClientError};

/// `/v1/admin/mcp/<server>/tools<suffix>`, names percent-encoded.
fn tools_path(server: &str, suffix: &str) -> String {
    format!("/v1/admin/mcp/{}/tools{suffix}", segment(server))
}

impl AdminClient {
    /// The pins of `server`'s tools, as the API answers.
    pub fn mcp_tools(&self, server: &str) -> Result<Value, ClientError> {
        self.send::<(), _>("GET", tools_path(server, ""), None)
    }

    /// Approves the definition `sha256` of `tool`, the one `server` was last seen listing.
    pub fn approve_mcp_tool(
        &self,
        server: &str,
        tool: &str,
        sha256: &str,
    ) -> Result<Value, ClientError> {
        let path = tools_path(server, &format!("/{}/approve", segment(tool)));
        let body = ApproveBody {
            sha256: sha256.to_string(),
        };
        self.send("POST", path, Some(&body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pins::api::{APPROVE_PATH, TOOLS_PATH};

    #[test]
    fn paths_are_the_routes_with_names_as_one_segment() {
        let route = |path: &str| path.replace("{server}", "files").replace("{tool}", "echo");
        assert_eq!(tools_path("files", ""), route(TOOLS_PATH));
        assert_eq!(tools_path("files", "/echo/approve"), route(APPROVE_PATH));
        assert_eq!(tools_path("a/b", ""), "/v1/admin/mcp/a%2Fb/tools");
    }
}
