//! User probes of a session and the decoding of their records (`custom` events) through
//! the BTF each probe stored (`schema::btf`).

use std::collections::HashMap;

use beefine_schema::Probe;
use beefine_schema::btf::{Btf, Value, flatten};

/// A probe, with its record type parsed once.
#[derive(Clone, Debug)]
pub struct ProbeInfo {
    pub name: String,
    record: Result<(Btf, String), String>,
}

/// The session's probes by id.
#[derive(Clone, Debug, Default)]
pub struct Probes {
    by_id: HashMap<u32, ProbeInfo>,
}

impl Probes {
    pub fn new(probes: &[Probe]) -> Self {
        let by_id = probes
            .iter()
            .map(|p| {
                let record = if p.btf.is_empty() {
                    Err("the probe stored no type description".to_owned())
                } else {
                    Btf::parse(&p.btf)
                        .map_err(|e| e.to_string())
                        .and_then(|btf| {
                            let name = p.record_type.clone().unwrap_or_else(|| "event".to_owned());
                            btf.record(&name).map_err(|e| e.to_string())?;
                            Ok((btf, name))
                        })
                };
                (
                    p.probe_id,
                    ProbeInfo {
                        name: p.name.clone(),
                        record,
                    },
                )
            })
            .collect();
        Self { by_id }
    }

    pub fn name(&self, probe_id: u32) -> Option<&str> {
        self.by_id.get(&probe_id).map(|p| p.name.as_str())
    }

    /// The record's fields as leaf paths and values (`pid`, `addr.port`, `args[1]`), or why
    /// they cannot be decoded.
    pub fn decode(&self, probe_id: u32, bytes: &[u8]) -> Result<Vec<(String, Value)>, String> {
        let probe = self
            .by_id
            .get(&probe_id)
            .ok_or_else(|| format!("probe {probe_id} is not described in the session"))?;
        let (btf, record) = probe.record.as_ref().map_err(Clone::clone)?;
        let fields = btf
            .record(record)
            .and_then(|r| r.decode(bytes))
            .map_err(|e| e.to_string())?;
        Ok(flatten(&fields))
    }
}
