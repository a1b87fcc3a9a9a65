//! A multi-tenant bootstrap with a real network policy and the automation identity's
//! `automation.toml`, shared by the tenant CLI tests.

#![allow(dead_code)] // Each test file uses a different subset.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use crate::common::{stderr, stdout, Emulator};

pub const BLUEPRINT: &str = "[blueprint.multi-tenant]\nallowed_cidrs = [\"127.0.0.1/32\"]\n";

pub struct Setup {
    pub emu: Emulator,
    pub dir: tempfile::TempDir,
}

impl Setup {
    /// `bootstrap multi-tenant --apply` as ADMIN with a real network policy, then
    /// `automation.toml`: the printed `[connection]` snippet plus the blueprint.
    pub fn start() -> Self {
        let emu = Emulator::start();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(dir.path().join("snowpat.toml"), BLUEPRINT).unwrap();
        let key = format!("file:{}", dir.path().join("automation.p8").display());
        let out = emu.snowpat(
            dir.path(),
            &["bootstrap", "multi-tenant", "--apply", "--sink", &key],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let snippet = &text[text.find("[connection]").expect("a [connection] snippet")..];
        std::fs::write(
            dir.path().join("automation.toml"),
            format!("{snippet}\n{BLUEPRINT}"),
        )
        .unwrap();
        let secrets = dir.path().join("secrets");
        std::fs::create_dir(&secrets).unwrap();
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o700)).unwrap();
        Self { emu, dir }
    }

    pub fn store(&self) -> String {
        format!("sqlite:{}", self.dir.path().join("state.db").display())
    }

    pub fn sink(&self) -> String {
        format!("file:{}/secrets/{{id}}.token", self.dir.path().display())
    }

    /// As ADMIN (ACCOUNTADMIN), connection from the environment.
    pub fn as_admin(&self, args: &[&str]) -> Output {
        let store = self.store();
        let mut all = vec!["--store", store.as_str(), "--output", "json"];
        all.extend_from_slice(args);
        self.emu.snowpat(self.dir.path(), &all)
    }

    /// As the automation identity (automation.toml, nothing in the environment).
    pub fn as_automation(&self, args: &[&str]) -> Output {
        self.as_automation_env(args, &[])
    }

    /// [`Setup::as_automation`] with extra environment variables.
    pub fn as_automation_env(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_snowpat"))
            .args(["--config", "automation.toml", "--store", &self.store()])
            .args(["--output", "json"])
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .envs(envs.iter().copied())
            .output()
            .unwrap()
    }
}
