//! `flowforge-gateway admin …`: the admin API from a shell, so an operator can create a consumer
//! and a key in one command each. Talks to `FLOWFORGE_ADMIN_URL` (default
//! `http://127.0.0.1:8001`) with `FLOWFORGE_ADMIN_TOKEN`; prints the JSON answer.

use serde_json::{Map, Value, json};

pub const USAGE: &str = "\
usage: flowforge-gateway admin <command> [options]

  consumers list
  consumers create <id> [--tier T] [--description D]
  consumers show <id>
  consumers update <id> [--tier T] [--description D] [--disable | --enable]
  consumers delete <id>
  keys issue <consumer> [--env E] [--scope S]... [--expires RFC3339]
  keys list <consumer>
  keys revoke <consumer> <key-id>
  keys rotate <consumer> <key-id> [--env E]
  tiers list
  tiers set <name> [--per-minute N] [--per-day N]     (absent = unlimited)
  tiers delete <name>
  usage <consumer> [--from YYYY-MM-DD] [--to YYYY-MM-DD]
  status | reload

environment: FLOWFORGE_ADMIN_URL (default http://127.0.0.1:8001), FLOWFORGE_ADMIN_TOKEN";

/// One admin API call.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: &'static str,
    pub path: String,
    pub body: Option<Value>,
}

/// Why the arguments make no request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}\n\n{USAGE}")]
pub struct UsageError(String);

fn usage_error(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

/// Positional arguments and `--name value` / `--flag` options.
struct Args {
    positional: Vec<String>,
    options: Vec<(String, Option<String>)>,
}

const FLAGS: [&str; 2] = ["disable", "enable"];

fn split(args: &[String]) -> Result<Args, UsageError> {
    let mut positional = Vec::new();
    let mut options = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.strip_prefix("--") {
            Some(name) if FLAGS.contains(&name) => options.push((name.to_owned(), None)),
            Some(name) => {
                let value = iter
                    .next()
                    .ok_or_else(|| usage_error(format!("--{name} needs a value")))?;
                options.push((name.to_owned(), Some(value.clone())));
            }
            None => positional.push(arg.clone()),
        }
    }
    Ok(Args {
        positional,
        options,
    })
}

impl Args {
    fn take(&self, allowed: &[&str]) -> Result<Map<String, Value>, UsageError> {
        let mut body = Map::new();
        for (name, value) in &self.options {
            if !allowed.contains(&name.as_str()) {
                return Err(usage_error(format!("unknown option --{name}")));
            }
            let field = match name.as_str() {
                "per-minute" => "perMinute",
                "per-day" => "perDay",
                "expires" => "expiresAt",
                "scope" => "scopes",
                "disable" | "enable" => "disabled",
                other => other,
            };
            let value = match (name.as_str(), value) {
                ("disable", _) => json!(true),
                ("enable", _) => json!(false),
                ("per-minute" | "per-day", Some(v)) => json!(
                    v.parse::<u64>()
                        .map_err(|_| usage_error(format!("--{name} takes a whole number")))?
                ),
                (_, Some(v)) => json!(v),
                (_, None) => Value::Null,
            };
            if field == "scopes" {
                if let Some(list) = body
                    .entry(field)
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                {
                    list.push(value);
                }
            } else {
                body.insert(field.to_owned(), value);
            }
        }
        Ok(body)
    }

    fn exactly(&self, count: usize, what: &str) -> Result<&[String], UsageError> {
        if self.positional.len() == count {
            Ok(&self.positional)
        } else {
            Err(usage_error(format!("expected {what}")))
        }
    }
}

fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn request(method: &'static str, path: String, body: Option<Map<String, Value>>) -> Request {
    Request {
        method,
        path,
        body: body.map(Value::Object),
    }
}

/// Turns `admin …` arguments into an admin API request.
pub fn parse(args: &[String]) -> Result<Request, UsageError> {
    let (Some(group), rest) = (args.first(), args.get(1..).unwrap_or_default()) else {
        return Err(usage_error("no command"));
    };
    let (command, rest) = match group.as_str() {
        "status" | "reload" | "usage" => ("", rest),
        _ => match rest.split_first() {
            Some((command, rest)) => (command.as_str(), rest),
            None => return Err(usage_error(format!("`{group}` needs a command"))),
        },
    };
    let args = split(rest)?;
    let none = |args: &Args| args.take(&[]).map(|_| ());
    match (group.as_str(), command) {
        ("status", _) => {
            args.exactly(0, "no arguments")?;
            Ok(request("GET", "/status".into(), None))
        }
        ("reload", _) => {
            args.exactly(0, "no arguments")?;
            Ok(request("POST", "/reload".into(), None))
        }
        ("usage", _) => {
            let consumer = &args.exactly(1, "a consumer id")?[0];
            let body = args.take(&["from", "to"])?;
            let query: Vec<String> = body
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect();
            let query = if query.is_empty() {
                String::new()
            } else {
                format!("?{}", query.join("&"))
            };
            Ok(request(
                "GET",
                format!("/consumers/{}/usage{query}", segment(consumer)),
                None,
            ))
        }
        ("consumers", "list") => {
            none(&args)?;
            Ok(request("GET", "/consumers".into(), None))
        }
        ("consumers", "create") => {
            let id = &args.exactly(1, "a consumer id")?[0];
            let mut body = args.take(&["tier", "description"])?;
            body.insert("id".into(), json!(id));
            Ok(request("POST", "/consumers".into(), Some(body)))
        }
        ("consumers", "show" | "delete") => {
            let id = &args.exactly(1, "a consumer id")?[0];
            none(&args)?;
            let method = if command == "show" { "GET" } else { "DELETE" };
            Ok(request(method, format!("/consumers/{}", segment(id)), None))
        }
        ("consumers", "update") => {
            let id = &args.exactly(1, "a consumer id")?[0];
            let body = args.take(&["tier", "description", "disable", "enable"])?;
            Ok(request(
                "PATCH",
                format!("/consumers/{}", segment(id)),
                Some(body),
            ))
        }
        ("keys", "issue") => {
            let consumer = &args.exactly(1, "a consumer id")?[0];
            let body = args.take(&["env", "scope", "expires"])?;
            Ok(request(
                "POST",
                format!("/consumers/{}/keys", segment(consumer)),
                Some(body),
            ))
        }
        ("keys", "list") => {
            let consumer = &args.exactly(1, "a consumer id")?[0];
            none(&args)?;
            Ok(request(
                "GET",
                format!("/consumers/{}/keys", segment(consumer)),
                None,
            ))
        }
        ("keys", "revoke" | "rotate") => {
            let pair = args.exactly(2, "a consumer id and a key id")?;
            let (consumer, key) = (&pair[0], &pair[1]);
            let path = format!("/consumers/{}/keys/{}", segment(consumer), segment(key));
            if command == "revoke" {
                none(&args)?;
                Ok(request("DELETE", path, None))
            } else {
                let body = args.take(&["env"])?;
                Ok(request("POST", format!("{path}/rotate"), Some(body)))
            }
        }
        ("tiers", "list") => {
            none(&args)?;
            Ok(request("GET", "/tiers".into(), None))
        }
        ("tiers", "set") => {
            let name = &args.exactly(1, "a tier name")?[0];
            let body = args.take(&["per-minute", "per-day"])?;
            Ok(request(
                "PUT",
                format!("/tiers/{}", segment(name)),
                Some(body),
            ))
        }
        ("tiers", "delete") => {
            let name = &args.exactly(1, "a tier name")?[0];
            none(&args)?;
            Ok(request("DELETE", format!("/tiers/{}", segment(name)), None))
        }
        (group, command) => Err(usage_error(format!("unknown command `{group} {command}`"))),
    }
}

/// Runs `admin …`: returns the process exit code.
pub fn run(args: &[String]) -> i32 {
    let request = match parse(args) {
        Ok(request) => request,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let base =
        std::env::var("FLOWFORGE_ADMIN_URL").unwrap_or_else(|_| "http://127.0.0.1:8001".into());
    let Ok(token) = std::env::var("FLOWFORGE_ADMIN_TOKEN") else {
        eprintln!("set FLOWFORGE_ADMIN_TOKEN to the gateway's adminToken");
        return 2;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    match runtime.block_on(send(&base, &token, &request)) {
        Ok((status, body)) => {
            if let Some(key) = body.get("key").and_then(Value::as_str) {
                eprintln!("new key (shown once, store it now): {key}");
            }
            if status.is_success() {
                if !body.is_null() {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&body).unwrap_or_default()
                    );
                }
                0
            } else {
                let message = body["error"]["message"]
                    .as_str()
                    .unwrap_or("request failed");
                let details: Vec<String> = body["error"]["details"]
                    .as_array()
                    .map(|d| {
                        d.iter()
                            .map(|x| {
                                format!(
                                    "{}: {}",
                                    x["field"].as_str().unwrap_or("?"),
                                    x["message"].as_str().unwrap_or("")
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                eprintln!("{status}: {message}");
                for detail in details {
                    eprintln!("  {detail}");
                }
                1
            }
        }
        Err(e) => {
            eprintln!("cannot reach the admin API at {base}: {e}");
            1
        }
    }
}

async fn send(
    base: &str,
    token: &str,
    request: &Request,
) -> reqwest::Result<(reqwest::StatusCode, Value)> {
    let method =
        reqwest::Method::from_bytes(request.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut builder = reqwest::Client::new()
        .request(
            method,
            format!("{}{}", base.trim_end_matches('/'), request.path),
        )
        .bearer_auth(token);
    if let Some(body) = &request.body {
        builder = builder.json(body);
    }
    let response = builder.send().await?;
    let status = response.status();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Request {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        parse(&args).unwrap()
    }

    #[test]
    fn commands_become_admin_requests() {
        assert_eq!(
            parsed("consumers create acme --tier pro"),
            Request {
                method: "POST",
                path: "/consumers".into(),
                body: Some(json!({"id": "acme", "tier": "pro"})),
            }
        );
        assert_eq!(
            parsed("keys issue acme --scope crypto --scope math/evaluate --env test").body,
            Some(json!({"scopes": ["crypto", "math/evaluate"], "env": "test"}))
        );
        assert_eq!(parsed("keys revoke acme 0193-x").method, "DELETE");
        assert_eq!(
            parsed("keys rotate acme k1").path,
            "/consumers/acme/keys/k1/rotate"
        );
        assert_eq!(
            parsed("tiers set gold --per-minute 50").body,
            Some(json!({"perMinute": 50}))
        );
        assert_eq!(
            parsed("consumers update acme --disable").body,
            Some(json!({"disabled": true}))
        );
        assert_eq!(
            parsed("usage acme --from 2026-11-01").path,
            "/consumers/acme/usage?from=2026-11-01"
        );
        assert_eq!(parsed("consumers show a@b.c").path, "/consumers/a%40b%2Ec");
    }

    #[test]
    fn mistakes_say_what_is_wrong() {
        let fails = |line: &str| {
            let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            parse(&args).unwrap_err().0
        };
        assert_eq!(fails("consumers create"), "expected a consumer id");
        assert_eq!(
            fails("consumers create a --bogus 1"),
            "unknown option --bogus"
        );
        assert_eq!(
            fails("tiers set t --per-day lots"),
            "--per-day takes a whole number"
        );
        assert_eq!(fails("keys issue a --env"), "--env needs a value");
        assert_eq!(fails("widgets list"), "unknown command `widgets list`");
    }
}
