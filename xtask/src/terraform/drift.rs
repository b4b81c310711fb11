//! What differs between the code and an environment, read from `terraform show -json` of a plan,
//! minus the emulator's known read-back gaps (`infra/envs/<env>.plan-gaps.txt`). Pure.

use std::collections::BTreeSet;

use anyhow::{Context, Result};

/// One resource that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drifted {
    pub address: String,
    /// `update` (with the attributes), `create`, `delete`, `replace`.
    pub action: String,
    pub attributes: Vec<String>,
    /// Terraform saw it changed outside Terraform (`resource_drift`), not only in the code.
    pub outside: bool,
}

/// `(layer, address, attribute)` triples from a plan-gaps file.
pub fn read_gaps(text: &str) -> BTreeSet<(String, String, String)> {
    text.lines()
        .map(|l| l.split_once('#').map_or(l, |(c, _)| c))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.to_owned(), f.next()?.to_owned(), f.next()?.to_owned()))
        })
        .collect()
}

fn changed_attributes(change: &serde_json::Value) -> Vec<String> {
    let (before, after) = (&change["before"], &change["after"]);
    let mut keys: BTreeSet<String> = BTreeSet::new();
    for side in [before, after] {
        keys.extend(side.as_object().into_iter().flatten().map(|(k, _)| k.clone()));
    }
    keys.into_iter().filter(|k| before.get(k) != after.get(k)).collect()
}

/// What differs in one layer, from `terraform show -json` of its plan, minus the known gaps.
pub fn differences(layer: &str, plan_json: &str, gaps: &BTreeSet<(String, String, String)>) -> Result<Vec<Drifted>> {
    let v: serde_json::Value = serde_json::from_str(plan_json).context("terraform show -json printed invalid JSON")?;
    let outside: BTreeSet<String> = v["resource_drift"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["address"].as_str().map(str::to_owned))
        .collect();
    let mut out = Vec::new();
    for rc in v["resource_changes"].as_array().into_iter().flatten() {
        let address = rc["address"].as_str().unwrap_or("?").to_owned();
        let actions: Vec<&str> =
            rc["change"]["actions"].as_array().into_iter().flatten().filter_map(|a| a.as_str()).collect();
        let action = match actions.as_slice() {
            ["no-op"] | ["read"] | [] => continue,
            ["update"] => "update",
            ["create"] => "create",
            ["delete"] => "delete",
            _ => "replace",
        };
        let mut attributes = if action == "update" { changed_attributes(&rc["change"]) } else { Vec::new() };
        if action == "update" {
            attributes.retain(|a| a != "tags_all" && !gaps.contains(&(layer.to_owned(), address.clone(), a.clone())));
            if attributes.is_empty() {
                continue;
            }
        }
        out.push(Drifted { outside: outside.contains(&address), address, action: action.into(), attributes });
    }
    Ok(out)
}
