//! The peer is the TCP peer address, never a forwarding header; the control API answers loopback
//! peers only.

use std::net::{IpAddr, SocketAddr, UdpSocket};

use serde_json::json;

use crate::harness::Emulator;

/// A non-loopback address of this machine, if it has one (no packet is sent).
fn local_non_loopback() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("10.255.255.255:1").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn forwarding_headers_do_not_change_the_peer() {
    let emu = Emulator::start().await;
    let response = emu
        .client
        .post(format!("{}/api/v2/statements", emu.url))
        .bearer_auth(emu.admin())
        .header("X-Forwarded-For", "203.0.113.9")
        .header("Forwarded", "for=203.0.113.9")
        .header("X-Real-IP", "203.0.113.9")
        .json(&json!({"statement": "SELECT CURRENT_USER()"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let lines = emu.control_log(0).await;
    assert_eq!(lines.last().unwrap()["peer"], "127.0.0.1");
}

#[tokio::test]
async fn non_loopback_peers_meet_the_network_policy_and_no_control_api() {
    let Some(ip) = local_non_loopback() else {
        eprintln!("skipped: this machine has no non-loopback address");
        return;
    };
    let emu = Emulator::start_with(|c| c.listen = SocketAddr::new(ip, 0)).await;
    let admin = emu.admin();
    // ADMIN's own network policy allows loopback only (snowflake-behaviour §3.2): refused,
    // whatever a forwarding header claims.
    let response = emu
        .client
        .post(format!("{}/api/v2/statements", emu.url))
        .bearer_auth(&admin)
        .header("X-Forwarded-For", "127.0.0.1")
        .json(&json!({"statement": "SELECT 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "099918", "{body}");
    let response = emu
        .client
        .get(format!("{}/emulator/v1/log", emu.url))
        .bearer_auth(emu.control_token())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        403,
        "control API: loopback peers only"
    );
    assert_eq!(emu.healthz_status().await, 200);
}
