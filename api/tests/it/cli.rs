//! The `api` binary itself: its commands, fail-fast configuration, and a clean stop on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn api(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_api"));
    command.current_dir(dir).env_remove("RUST_LOG");
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("HUIYUAN")) {
        command.env_remove(key);
    }
    command
}

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hy-cli-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn help_lists_the_subcommands() {
    let dir = temp_dir();
    let output = api(&dir).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "migrate", "seed-demo", "create-owner", "check-config"] {
        assert!(text.contains(command), "{command} missing from:\n{text}");
    }
}

#[test]
fn bad_settings_fail_fast_naming_the_setting() {
    let dir = temp_dir();
    let production = [
        ("HUIYUAN__MODE", "production"),
        ("HUIYUAN__SECURITY__ACTIVE_KEY", "k1"),
        ("HUIYUAN__SECURITY__KEYS__K1", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        ("HUIYUAN__SECURITY__INDEX_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        ("HUIYUAN__DEMO__SEED", "false"),
        ("HUIYUAN__SANDBOX__ENABLED", "false"),
    ];
    let sms_on_the_log = [production.as_slice(), &[("HUIYUAN__DATABASE__URL", "sqlite://prod.db?mode=rwc")]].concat();
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("HUIYUAN__DATABASE__URL", "mysql://localhost/x")], "database.url"),
        (&[("HUIYUAN__AUTH__MEMBER_CODE_TTL_SECS", "600")], "member_code_ttl_secs"),
        (&[("HUIYUAN__MODE", "production")], "security.keys"),
        (
            &[
                ("HUIYUAN__MODE", "production"),
                ("HUIYUAN__SECURITY__ACTIVE_KEY", "k1"),
                ("HUIYUAN__SECURITY__KEYS__K1", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
                ("HUIYUAN__SECURITY__INDEX_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            ],
            "demo data",
        ),
        // SMS written to the log would pass for sent in production.
        (&sms_on_the_log, "notifications.sms_enabled"),
    ];
    for (env, expected) in cases {
        let output = api(&dir).envs(env.iter().copied()).arg("check-config").output().unwrap();
        assert!(!output.status.success(), "{env:?} should fail");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{env:?}: expected `{expected}` in:\n{stderr}");
    }
    let sms_off = [sms_on_the_log.as_slice(), &[("HUIYUAN__NOTIFICATIONS__SMS_ENABLED", "false")]].concat();
    let output = api(&dir).envs(sms_off.iter().copied()).arg("check-config").output().unwrap();
    assert!(output.status.success(), "production without SMS: {}", String::from_utf8_lossy(&output.stderr));
    let output = api(&dir).arg("check-config").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("<redacted>") || printed.contains("<empty>"), "secrets are redacted: {printed}");
}

#[test]
fn serve_seeds_once_and_stops_cleanly_on_sigterm() {
    let dir = temp_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let start = |dir: &std::path::Path| {
        api(dir)
            .args(["--port", &port.to_string()])
            .env("HUIYUAN__SANDBOX__LISTEN", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // Ready means answering HTTP, not merely bound: the listener exists before the signal handlers do.
    let answers_health = || -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
        let request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        let mut response = String::new();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut response).is_ok()
            && response.starts_with("HTTP/1.1 200")
    };
    let wait_ready = || {
        let started = Instant::now();
        while !answers_health() {
            assert!(started.elapsed() < Duration::from_secs(30), "server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let stop = |child: &mut std::process::Child| {
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "exit status {status}");
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut out = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
        out
    };

    let mut first = start(&dir);
    wait_ready();
    let out = stop(&mut first);
    assert!(out.contains("Demo merchant seeded") && out.contains("demo-cashier"), "{out}");
    assert!(dir.join("data/huiyuan.db").exists());
    assert!(dir.join("data/dev-keys.toml").exists());

    // The second start reuses data and keys, and prints no passwords again.
    let mut second = start(&dir);
    wait_ready();
    let out = stop(&mut second);
    assert!(!out.contains("demo-cashier"), "passwords are printed once: {out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn wechat_pay_credentials_are_configured_from_files_and_never_printed() {
    let dir = temp_dir();
    let seeded = api(&dir).arg("seed-demo").output().unwrap();
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let key = write("apiclient_key.pem", sandbox::WECHATPAY_MERCHANT_PRIVATE_KEY);
    let apiv3 = write("apiv3.key", "CliApiV3Key000000000000000000000\n");
    let public = write("pub_key.pem", sandbox::WECHATPAY_PLATFORM_PUBLIC_KEY);
    let args = |key_file: &str| {
        vec![
            "configure-wechatpay".to_owned(),
            "--merchant-id".into(),
            "1".into(),
            "--mchid".into(),
            "1230000109".into(),
            "--serial".into(),
            sandbox::WECHATPAY_MERCHANT_SERIAL.into(),
            "--private-key-file".into(),
            key_file.to_owned(),
            "--apiv3-key-file".into(),
            apiv3.clone(),
            "--public-key-id".into(),
            sandbox::WECHATPAY_PUBLIC_KEY_ID.into(),
            "--public-key-file".into(),
            public.clone(),
        ]
    };
    // A file that is not a key is refused, naming the field; nothing is written.
    let not_a_key = write("not_a_key.pem", "hello");
    let refused = api(&dir).args(args(&not_a_key)).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("private_key"));

    let output = api(&dir).args(args(&key)).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(printed.contains("private key set") && printed.contains(sandbox::WECHATPAY_PUBLIC_KEY_ID), "{printed}");
    assert!(!printed.contains("PRIVATE KEY") && !printed.contains("CliApiV3Key"), "no secret printed: {printed}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn check_config_prints_readable_toml_and_names_the_keys_in_use() {
    let dir = temp_dir();
    let output = api(&dir)
        .env("HUIYUAN__REDIS__URL", "redis://:hunter2@cache.internal:6379")
        .arg("check-config")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8_lossy(&output.stdout);
    let parsed: toml::Table = toml::from_str(&printed).expect("the printed configuration is TOML");
    assert_eq!(parsed["redis"]["url"].as_str(), Some("<redacted>"));
    assert_eq!(parsed["server"]["port"].as_integer(), Some(8080));
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(printed.contains("dev-keys.toml"), "says which keys seal personal data: {printed}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn verify_ledger_refuses_an_unknown_merchant_and_says_what_it_checked() {
    let dir = temp_dir();
    assert!(api(&dir).arg("seed-demo").output().unwrap().status.success());
    let unknown = api(&dir).args(["verify-ledger", "--merchant-id", "999999"]).output().unwrap();
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("no merchant with id 999999") && !stderr.contains("backtrace"), "{stderr}");
    let known = api(&dir).args(["verify-ledger", "--merchant-id", "1"]).output().unwrap();
    assert!(known.status.success(), "{}", String::from_utf8_lossy(&known.stderr));
    let printed = String::from_utf8_lossy(&known.stdout);
    // The demo's stored value is recharged through the ledger: there is something to check.
    assert!(printed.contains("checked merchant 1:") && !printed.contains(" 0 journal entries"), "{printed}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_scheduler_runs_alone_and_stops_on_sigterm() {
    let dir = temp_dir();
    let mut scheduler = api(&dir)
        .arg("scheduler")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The log (on stdout) is read as it comes, so the signal is sent once the scheduler says it runs.
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let (log, stdout) = (log.clone(), scheduler.stdout.take().unwrap());
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                log.lock().unwrap().push_str(&line);
                log.lock().unwrap().push('\n');
            }
        })
    };
    let started = Instant::now();
    while !log.lock().unwrap().contains("scheduler running") {
        assert!(started.elapsed() < Duration::from_secs(30), "the scheduler did not start: {}", log.lock().unwrap());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(Command::new("kill").args(["-TERM", &scheduler.id().to_string()]).status().unwrap().success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = scheduler.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    reader.join().unwrap();
    let log = log.lock().unwrap();
    assert!(log.contains("scheduler stopped"), "{log}");
    std::fs::remove_dir_all(&dir).ok();
}
