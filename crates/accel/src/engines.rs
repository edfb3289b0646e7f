//! Inference engines installed on this node, as labels the scheduler matches deployments with:
//! `engine.vllm=yes`, `engine.sglang=yes` (Python packages), `engine.llama.cpp=yes`
//! (`llama-server` on the PATH). A deployment with backend `vllm` runs only where vLLM is.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

/// Whether `python3` can import `module` (found, not imported: cheap even for vLLM).
fn python_has(module: &str) -> bool {
    let check = format!("import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('{module}') else 1)");
    Command::new("python3")
        .args(["-c", &check])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| is_file(&dir.join(program))))
}

fn is_file(p: &Path) -> bool {
    p.is_file()
}

pub fn detect() -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    for (engine, found) in
        [("vllm", python_has("vllm")), ("sglang", python_has("sglang")), ("llama.cpp", on_path("llama-server"))]
    {
        if found {
            labels.insert(format!("engine.{engine}"), "yes".to_string());
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_program_on_the_path_is_found_and_a_missing_one_is_not() {
        assert!(super::on_path("sh"));
        assert!(!super::on_path("no-such-program-strata-test"));
        assert!(!super::python_has("no_such_module_strata_test"));
    }
}
