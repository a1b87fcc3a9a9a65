//! PAT statements (§5.12, §6.1–§6.5, §6.7).

use super::*;

fn setup() -> (Account, Session) {
    let mut a = account();
    let mut sess = admin(&a);
    service_user(&mut a, &mut sess);
    (a, sess)
}

#[test]
fn conformance_011_alter_user_if_exists_missing_user() {
    let mut a = account();
    let mut sess = admin(&a);
    let mut st = add_pat(Some("GHOST"), "T", None, None);
    if let Statement::AlterUser { if_exists, .. } = &mut st {
        *if_exists = true;
    }
    let r = ok(&mut a, &mut sess, st);
    assert_eq!(
        text_at(&r, 0, "status").as_deref(),
        Some("Statement executed successfully.")
    );
    assert!(!r.changed);
    assert!(a.catalog.pats.is_empty());
}

#[test]
fn conformance_038_service_user_without_network_policy() {
    let mut a = account_with(false, PatSessionRules::Observed);
    let mut sess = admin(&a);
    ok(&mut a, &mut sess, create_role("R"));
    ok(
        &mut a,
        &mut sess,
        create_user("SVC", vec![prop("TYPE", name("SERVICE"))]),
    );
    ok(&mut a, &mut sess, grant_role_user("R", "SVC"));
    assert_eq!(
        code(
            &mut a,
            &mut sess,
            add_pat(Some("SVC"), "T", Some("R"), None)
        ),
        "099911"
    );
}

#[test]
fn conformance_039_to_042_role_restriction_rules() {
    let (mut a, mut sess) = setup();
    // 39: required for service users under the built-in defaults
    assert_eq!(
        code(&mut a, &mut sess, add_pat(Some("SVC"), "T", None, None)),
        "099904"
    );
    // 40: not granted
    ok(&mut a, &mut sess, create_role("OTHER"));
    assert_eq!(
        code(
            &mut a,
            &mut sess,
            add_pat(Some("SVC"), "T", Some("OTHER"), None)
        ),
        "099905"
    );
    assert_eq!(
        code(
            &mut a,
            &mut sess,
            add_pat(Some("SVC"), "T", Some("NOPE"), None)
        ),
        "002003"
    );
    // 41: granted
    let r = ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), None),
    );
    assert_eq!(
        r.columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["token_name", "token_secret"]
    );
    assert_eq!(text_at(&r, 0, "token_name").as_deref(), Some("T"));
    assert!(r.changed && r.carries_secret);
    let secret = secret_of(&r);
    assert!(secret.len() >= 40 && !secret.contains('.'));
    assert!(secret
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    let show = ok(&mut a, &mut sess, show_pats(Some("SVC")));
    assert_eq!(text_at(&show, 0, "role_restriction").as_deref(), Some("R"));
    // the secret is stored only as a digest
    let json = serde_json::to_string(&a).unwrap_or_default();
    assert!(!json.contains(&secret));
}

#[test]
fn conformance_045_047_days_to_expiry() {
    let (mut a, mut sess) = setup();
    assert_eq!(
        code(
            &mut a,
            &mut sess,
            add_pat(Some("SVC"), "T", Some("R"), Some(0))
        ),
        "099907"
    );
    assert_eq!(
        code(
            &mut a,
            &mut sess,
            add_pat(Some("SVC"), "T", Some("R"), Some(366))
        ),
        "099907"
    );
    ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), None),
    );
    let show = ok(&mut a, &mut sess, show_pats(Some("SVC")));
    assert_eq!(
        ts_at(&show, 0, "expires_at"),
        Some(t0() + Duration::days(15))
    );
    assert_eq!(ts_at(&show, 0, "created_on"), Some(t0()));
}

#[test]
fn conformance_048_bypass_minutes_range() {
    let (mut a, mut sess) = setup();
    let mut st = add_pat(Some("SVC"), "T", Some("R"), None);
    if let Statement::AlterUser {
        action: AlterUserAction::AddPat(p),
        ..
    } = &mut st
    {
        p.mins_to_bypass_network_policy_requirement = Some(1441);
    }
    assert_eq!(code(&mut a, &mut sess, st), "099908");
}

#[test]
fn conformance_049_050_token_limit() {
    let (mut a, mut sess) = setup();
    for i in 0..15 {
        let days = if i == 0 { Some(1) } else { None };
        ok(
            &mut a,
            &mut sess,
            add_pat(Some("SVC"), &format!("T{i}"), Some("R"), days),
        );
    }
    ok(
        &mut a,
        &mut sess,
        modify(
            Some("SVC"),
            "T1",
            ModifyPat::Set {
                disabled: Some(true),
                mins_to_bypass_network_policy_requirement: None,
                comment: None,
            },
        ),
    );
    assert_eq!(
        code(
            &mut a,
            &mut sess,
            add_pat(Some("SVC"), "X", Some("R"), None)
        ),
        "099903"
    );
    // T0 expires after one day: it no longer counts.
    ok_at(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "X", Some("R"), None),
        at(25),
    );
}

#[test]
fn conformance_051_duplicate_name() {
    let (mut a, mut sess) = setup();
    ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), None),
    );
    assert_eq!(
        code(
            &mut a,
            &mut sess,
            add_pat(Some("SVC"), "T", Some("R"), None)
        ),
        "099901"
    );
    let mut st = add_pat(Some("SVC"), "T", Some("R"), None);
    if let Statement::AlterUser {
        action: AlterUserAction::AddPat(p),
        ..
    } = &mut st
    {
        p.if_not_exists = true;
    }
    let r = ok(&mut a, &mut sess, st);
    assert_eq!(r.columns.len(), 2);
    assert!(r.rows.is_empty() && !r.changed && !r.carries_secret);
}

#[test]
fn conformance_061_rotate_default_grace_and_062_063() {
    let (mut a, mut sess) = setup();
    let r = ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), Some(90)),
    );
    let old = secret_of(&r);
    let r = ok_at(&mut a, &mut sess, rotate(Some("SVC"), "T", None), at(1));
    assert_eq!(
        r.columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["token_name", "token_secret", "rotated_token_name"]
    );
    let new = secret_of(&r);
    assert_ne!(new, old);
    let rotated = text_at(&r, 0, "rotated_token_name").unwrap_or_default();
    assert_eq!(
        rotated,
        format!(
            "T_ROTATED_{}",
            (t0() + Duration::hours(1)).timestamp_millis()
        )
    );
    let show = ok_at(&mut a, &mut sess, show_pats(Some("SVC")), at(1));
    let ti = row_named(&show, "T").unwrap_or(99);
    let ri = row_named(&show, &rotated).unwrap_or(99);
    assert_eq!(
        ts_at(&show, ti, "expires_at"),
        Some(t0() + Duration::hours(1) + Duration::days(90))
    );
    assert_eq!(
        ts_at(&show, ri, "expires_at"),
        Some(t0() + Duration::hours(25))
    );
    assert_eq!(text_at(&show, ri, "rotated_to").as_deref(), Some("T"));
    assert_eq!(text_at(&show, ri, "status").as_deref(), Some("ACTIVE"));
    assert_eq!(text_at(&show, ti, "rotated_to"), None);
    // 62: old secret works for the grace period only
    assert!(pat_login(&mut a, &old, at(24)).is_ok());
    assert_eq!(
        pat_login(&mut a, &old, at(26))
            .map(|_| ())
            .unwrap_err()
            .code,
        "394400"
    );
    assert!(pat_login(&mut a, &new, at(26)).is_ok());
}

#[test]
fn conformance_063_rotate_zero_hours_expires_at_once() {
    let (mut a, mut sess) = setup();
    let old = secret_of(&ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), None),
    ));
    let r = ok(&mut a, &mut sess, rotate(Some("SVC"), "T", Some(0)));
    let rotated = text_at(&r, 0, "rotated_token_name").unwrap_or_default();
    let show = ok(&mut a, &mut sess, show_pats(Some("SVC")));
    let ri = row_named(&show, &rotated).unwrap_or(99);
    assert_eq!(text_at(&show, ri, "status").as_deref(), Some("EXPIRED"));
    assert_eq!(
        pat_login(&mut a, &old, now()).map(|_| ()).unwrap_err().code,
        "394400"
    );
}

#[test]
fn conformance_064_rotate_grace_above_remaining() {
    let (mut a, mut sess) = setup();
    ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), Some(1)),
    );
    // 10 hours left at +14 h
    let e = a
        .execute(&mut sess, &rotate(Some("SVC"), "T", Some(11)), at(14))
        .unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "099909",
            "EXPIRE_ROTATED_TOKEN_AFTER_HOURS must be between 0 and 10."
        )
    );
    // default grace is capped at the remaining hours
    let r = ok_at(&mut a, &mut sess, rotate(Some("SVC"), "T", None), at(14));
    let rotated = text_at(&r, 0, "rotated_token_name").unwrap_or_default();
    let show = ok_at(&mut a, &mut sess, show_pats(Some("SVC")), at(14));
    let ri = row_named(&show, &rotated).unwrap_or(99);
    assert_eq!(
        ts_at(&show, ri, "expires_at"),
        Some(t0() + Duration::hours(24))
    );
}

#[test]
fn conformance_065_rotate_missing_token() {
    let (mut a, mut sess) = setup();
    let e = a
        .execute(&mut sess, &rotate(Some("SVC"), "FOO", None), now())
        .unwrap_err();
    assert_eq!(e.code, "099902");
    assert_eq!(e.message, "Programmatic access token FOO not found");
    let st = Statement::AlterUser {
        if_exists: false,
        user: Some(id("SVC")),
        action: AlterUserAction::RotatePat {
            if_exists: true,
            name: id("FOO"),
            expire_rotated_token_after_hours: None,
        },
    };
    assert!(!ok(&mut a, &mut sess, st).changed);
}

#[test]
fn conformance_066_rotate_after_restriction_revoked() {
    let (mut a, mut sess) = setup();
    ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), None),
    );
    ok(
        &mut a,
        &mut sess,
        Statement::RevokeRole {
            grant_option_for: false,
            role: id("R"),
            from: Grantee::User(id("SVC")),
            behavior: None,
        },
    );
    let new = secret_of(&ok(&mut a, &mut sess, rotate(Some("SVC"), "T", None)));
    assert_eq!(
        pat_login(&mut a, &new, now()).map(|_| ()).unwrap_err().code,
        "394400"
    );
}

#[test]
fn conformance_067_068_disable_and_reenable() {
    let (mut a, mut sess) = setup();
    let secret = secret_of(&ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), None),
    ));
    let set = ModifyPat::Set {
        disabled: Some(true),
        mins_to_bypass_network_policy_requirement: None,
        comment: None,
    };
    ok(&mut a, &mut sess, modify(Some("SVC"), "T", set));
    let show = ok(&mut a, &mut sess, show_pats(Some("SVC")));
    assert_eq!(text_at(&show, 0, "status").as_deref(), Some("DISABLED"));
    assert_eq!(
        pat_login(&mut a, &secret, now())
            .map(|_| ())
            .unwrap_err()
            .code,
        "394400"
    );
    ok(
        &mut a,
        &mut sess,
        modify(
            Some("SVC"),
            "T",
            ModifyPat::Unset(vec![PatProperty::Disabled]),
        ),
    );
    let show = ok(&mut a, &mut sess, show_pats(Some("SVC")));
    assert_eq!(text_at(&show, 0, "status").as_deref(), Some("ACTIVE"));
    assert!(pat_login(&mut a, &secret, now()).is_ok());
}

#[test]
fn conformance_069_rename() {
    let (mut a, mut sess) = setup();
    ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), None),
    );
    ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "U", Some("R"), None),
    );
    assert_eq!(
        code(
            &mut a,
            &mut sess,
            modify(Some("SVC"), "T", ModifyPat::Rename(id("U")))
        ),
        "099901"
    );
    ok(
        &mut a,
        &mut sess,
        modify(Some("SVC"), "T", ModifyPat::Rename(id("T2"))),
    );
    let show = ok(&mut a, &mut sess, show_pats(Some("SVC")));
    assert!(row_named(&show, "T2").is_some() && row_named(&show, "T").is_none());
}

#[test]
fn conformance_071_rotated_object_changes() {
    let (mut a, mut sess) = setup();
    ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), None),
    );
    let r = ok(&mut a, &mut sess, rotate(Some("SVC"), "T", None));
    let rotated = text_at(&r, 0, "rotated_token_name").unwrap_or_default();
    let comment = ModifyPat::Set {
        disabled: None,
        mins_to_bypass_network_policy_requirement: None,
        comment: Some("x".into()),
    };
    assert_eq!(
        code(&mut a, &mut sess, modify(Some("SVC"), &rotated, comment)),
        "099912"
    );
    assert_eq!(
        code(&mut a, &mut sess, rotate(Some("SVC"), &rotated, None)),
        "099912"
    );
    let disable = ModifyPat::Set {
        disabled: Some(true),
        mins_to_bypass_network_policy_requirement: None,
        comment: None,
    };
    ok(&mut a, &mut sess, modify(Some("SVC"), &rotated, disable));
    ok(&mut a, &mut sess, remove(Some("SVC"), &rotated));
}

#[test]
fn conformance_072_073_remove() {
    let (mut a, mut sess) = setup();
    let secret = secret_of(&ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), None),
    ));
    let r = ok(&mut a, &mut sess, remove(Some("SVC"), "T"));
    assert_eq!(
        text_at(&r, 0, "status").as_deref(),
        Some("Programmatic access token T successfully removed.")
    );
    assert_eq!(
        pat_login(&mut a, &secret, now())
            .map(|_| ())
            .unwrap_err()
            .code,
        "394400"
    );
    assert_eq!(
        code(&mut a, &mut sess, remove(Some("SVC"), "FOO")),
        "099902"
    );
    assert_eq!(
        code(&mut a, &mut sess, remove(Some("GHOST"), "FOO")),
        "002003"
    );
}

#[test]
fn conformance_074_075_show_privilege_and_columns() {
    let (mut a, mut sess) = setup();
    ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), None),
    );
    let show = ok(&mut a, &mut sess, show_pats(Some("SVC")));
    let cols: Vec<&str> = show.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        cols,
        [
            "name",
            "user_name",
            "role_restriction",
            "expires_at",
            "status",
            "comment",
            "created_on",
            "created_by",
            "mins_to_bypass_network_policy_requirement",
            "rotated_to"
        ]
    );
    assert!(!show.carries_secret && !show.changed);
    // B: a PERSON user with only PUBLIC, logged in by key pair stand-in (internal session)
    ok(&mut a, &mut sess, create_user("B", vec![]));
    let mut b = session_of(&a, "B");
    assert_eq!(code(&mut a, &mut b, show_pats(Some("SVC"))), "003001");
    // self-PERSON needs nothing
    ok(&mut a, &mut b, show_pats(None));
}

#[test]
fn conformance_076_expired_tokens_purged_after_seven_days() {
    let (mut a, mut sess) = setup();
    ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), Some(1)),
    );
    let show = ok_at(&mut a, &mut sess, show_pats(Some("SVC")), at(24 + 24 * 6));
    assert_eq!(text_at(&show, 0, "status").as_deref(), Some("EXPIRED"));
    let show = ok_at(&mut a, &mut sess, show_pats(Some("SVC")), at(24 + 24 * 8));
    assert!(show.rows.is_empty());
}

#[test]
fn conformance_077_user_disable_disables_tokens() {
    let (mut a, mut sess) = setup();
    ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), None),
    );
    ok(
        &mut a,
        &mut sess,
        alter_user_set("SVC", vec![prop("DISABLED", Value::Bool(true))]),
    );
    let show = ok(&mut a, &mut sess, show_pats(Some("SVC")));
    assert_eq!(text_at(&show, 0, "status").as_deref(), Some("DISABLED"));
    ok(
        &mut a,
        &mut sess,
        alter_user_set("SVC", vec![prop("DISABLED", Value::Bool(false))]),
    );
    let show = ok(&mut a, &mut sess, show_pats(Some("SVC")));
    assert_eq!(text_at(&show, 0, "status").as_deref(), Some("DISABLED"));
}

#[test]
fn conformance_088_expired_token() {
    let (mut a, mut sess) = setup();
    let secret = secret_of(&ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), Some(2)),
    ));
    assert!(pat_login(&mut a, &secret, at(47)).is_ok());
    assert_eq!(
        pat_login(&mut a, &secret, at(48))
            .map(|_| ())
            .unwrap_err()
            .code,
        "394400"
    );
    let show = ok_at(&mut a, &mut sess, show_pats(Some("SVC")), at(48));
    assert_eq!(text_at(&show, 0, "status").as_deref(), Some("EXPIRED"));
}

#[test]
fn conformance_105_106_show_created_by_and_dropped_creator() {
    let (mut a, mut sess) = setup();
    ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), None),
    );
    let show = ok(&mut a, &mut sess, show_pats(Some("SVC")));
    assert_eq!(text_at(&show, 0, "user_name").as_deref(), Some("SVC"));
    assert_eq!(text_at(&show, 0, "created_by").as_deref(), Some("ADMIN"));
    assert_eq!(text_at(&show, 0, "rotated_to"), None);
    // ADMIN2 holds MPAM on SVC through role M
    ok(&mut a, &mut sess, create_role("M"));
    ok(
        &mut a,
        &mut sess,
        Statement::GrantPrivileges {
            privileges: Privileges::List(vec!["MODIFY PROGRAMMATIC AUTHENTICATION METHODS".into()]),
            on: GrantTarget::Object {
                kind: ObjectKind::User,
                name: on(&["SVC"]),
            },
            to_role: id("M"),
            with_grant_option: false,
        },
    );
    ok(
        &mut a,
        &mut sess,
        create_user("ADMIN2", vec![prop("DEFAULT_ROLE", name("M"))]),
    );
    ok(&mut a, &mut sess, grant_role_user("M", "ADMIN2"));
    let admin2_id = a.catalog.user_id("ADMIN2").unwrap_or_default();
    let mut s2 = session_of(&a, "ADMIN2");
    ok(&mut a, &mut s2, add_pat(Some("SVC"), "T2", Some("R"), None));
    ok(
        &mut a,
        &mut sess,
        Statement::DropUser {
            if_exists: false,
            name: id("ADMIN2"),
        },
    );
    let show = ok(&mut a, &mut sess, show_pats(Some("SVC")));
    let i = row_named(&show, "T2").unwrap_or(99);
    assert_eq!(text_at(&show, i, "created_by"), Some(admin2_id.to_string()));
}

#[test]
fn conformance_097_dropped_user_token() {
    let (mut a, mut sess) = setup();
    let secret = secret_of(&ok(
        &mut a,
        &mut sess,
        add_pat(Some("SVC"), "T", Some("R"), None),
    ));
    ok(
        &mut a,
        &mut sess,
        Statement::DropUser {
            if_exists: false,
            name: id("SVC"),
        },
    );
    assert_eq!(
        pat_login(&mut a, &secret, now())
            .map(|_| ())
            .unwrap_err()
            .code,
        "394400"
    );
}

#[test]
fn pat_session_rules_053_055_056_057() {
    for mode in [PatSessionRules::Observed, PatSessionRules::Documented] {
        let mut a = account_with(true, mode);
        let mut sess = admin(&a);
        // AUTO: a PERSON user whose role AUTOMATION_ROLE owns user D
        ok(&mut a, &mut sess, create_role("AUTOMATION_ROLE"));
        ok(&mut a, &mut sess, create_role("CORTEX_REST_API_ROLE"));
        ok(
            &mut a,
            &mut sess,
            create_user("AUTO", vec![prop("DEFAULT_ROLE", name("AUTOMATION_ROLE"))]),
        );
        ok(
            &mut a,
            &mut sess,
            grant_role_user("AUTOMATION_ROLE", "AUTO"),
        );
        ok(
            &mut a,
            &mut sess,
            create_user("D", vec![prop("TYPE", name("SERVICE"))]),
        );
        ok(
            &mut a,
            &mut sess,
            grant_role_user("CORTEX_REST_API_ROLE", "D"),
        );
        give_network_policy(&mut a, &mut sess, "D");
        ok(
            &mut a,
            &mut sess,
            Statement::GrantOwnership {
                on: OwnershipTarget::Object {
                    kind: ObjectKind::User,
                    name: on(&["D"]),
                },
                to_role: id("AUTOMATION_ROLE"),
                current_grants: Some(CurrentGrants::Copy),
            },
        );
        let restricted = secret_of(&ok(
            &mut a,
            &mut sess,
            add_pat(Some("AUTO"), "R1", Some("AUTOMATION_ROLE"), None),
        ));
        let unrestricted = secret_of(&ok(
            &mut a,
            &mut sess,
            add_pat(Some("AUTO"), "U1", None, None),
        ));
        // 53: restricted session, restriction differs
        let mut rs = pat_login(&mut a, &restricted, now()).unwrap_or_else(|e| panic!("{e}"));
        let add_d = add_pat(Some("D"), "X", Some("CORTEX_REST_API_ROLE"), None);
        if mode == PatSessionRules::Observed {
            let none = a
                .execute(&mut rs, &add_pat(Some("D"), "Y", None, None), now())
                .unwrap_err();
            assert_eq!(
                none.message,
                "The specified role restriction NONE does not match the session role AUTOMATION_ROLE."
            );
            let e = a.execute(&mut rs, &add_d, now()).unwrap_err();
            assert_eq!(e.code, "099421");
            assert_eq!(
                e.message,
                "The specified role restriction CORTEX_REST_API_ROLE does not match the session role AUTOMATION_ROLE."
            );
        } else {
            ok(&mut a, &mut rs, add_d.clone());
            ok(&mut a, &mut rs, remove(Some("D"), "X"));
        }
        // 54/57: unrestricted session manages another user's tokens
        let mut us = pat_login(&mut a, &unrestricted, now()).unwrap_or_else(|e| panic!("{e}"));
        ok(&mut a, &mut us, add_d);
        ok(&mut a, &mut us, rotate(Some("D"), "X", None));
        ok(&mut a, &mut us, remove(Some("D"), "X"));
        // 55: same-user management in a PAT session
        assert_eq!(code(&mut a, &mut us, rotate(None, "U1", None)), "099413");
        assert_eq!(code(&mut a, &mut us, remove(None, "R1")), "099413");
        // 56: same-user ADD
        if mode == PatSessionRules::Observed {
            assert_eq!(
                code(&mut a, &mut us, add_pat(None, "T2", None, None)),
                "099413"
            );
        } else {
            ok(&mut a, &mut us, add_pat(None, "T2", None, None));
        }
    }
}

#[test]
fn conformance_036_person_user_adds_own_token() {
    let mut a = account();
    let mut sess = admin(&a);
    ok(&mut a, &mut sess, create_user("P", vec![]));
    let mut p = session_with(&a, "P", AuthMethod::KeyPair);
    let r = ok(
        &mut a,
        &mut p,
        add_pat(None, "t".to_uppercase().as_str(), None, None),
    );
    assert_eq!(text_at(&r, 0, "token_name").as_deref(), Some("T"));
    assert!(!secret_of(&r).is_empty());
}

#[test]
fn conformance_037_other_user_without_privilege() {
    let mut a = account();
    let mut sess = admin(&a);
    ok(&mut a, &mut sess, create_user("P", vec![]));
    ok(&mut a, &mut sess, create_user("B", vec![]));
    let mut b = session_of(&a, "B");
    assert_eq!(
        code(&mut a, &mut b, add_pat(Some("P"), "T", None, None)),
        "003001"
    );
}

#[test]
fn conformance_058_059_oauth_session_rules() {
    for mode in [PatSessionRules::Observed, PatSessionRules::Documented] {
        let mut a = account_with(true, mode);
        let mut sess = admin(&a);
        sql(&mut a, &mut sess, "CREATE ROLE analyst");
        sql(&mut a, &mut sess, "CREATE USER u DEFAULT_ROLE = analyst");
        sql(&mut a, &mut sess, "GRANT ROLE analyst TO USER u");
        sql(&mut a, &mut sess, "CREATE ROLE other");
        sql(&mut a, &mut sess, "GRANT ROLE other TO USER u");
        // an OAuth session as the OAuth work will open it
        let mut o = session_with(&a, "U", AuthMethod::OAuth);
        if mode == PatSessionRules::Observed {
            assert_eq!(sql_code(&mut a, &mut o, "ALTER USER ADD PAT p"), "099420");
            assert_eq!(
                sql_code(
                    &mut a,
                    &mut o,
                    "ALTER USER ADD PAT p ROLE_RESTRICTION = 'OTHER'"
                ),
                "099421"
            );
        } else {
            sql(&mut a, &mut o, "ALTER USER ADD PAT p0");
        }
        sql(
            &mut a,
            &mut o,
            "ALTER USER ADD PAT p ROLE_RESTRICTION = 'ANALYST'",
        );
    }
}

#[test]
fn conformance_104_cortex_needs_cortex_user_after_opt_out() {
    let (mut a, mut sess) = setup();
    let secret = secret_of(&sql(
        &mut a,
        &mut sess,
        "ALTER USER svc ADD PAT t ROLE_RESTRICTION = r",
    ));
    let s = pat_login(&mut a, &secret, now()).unwrap_or_else(|e| panic!("{e}"));
    assert!(a.cortex_allowed(&s));
    sql(
        &mut a,
        &mut sess,
        "REVOKE DATABASE ROLE SNOWFLAKE.CORTEX_USER FROM ROLE PUBLIC",
    );
    assert!(!a.cortex_allowed(&s));
    sql(
        &mut a,
        &mut sess,
        "GRANT DATABASE ROLE SNOWFLAKE.CORTEX_USER TO ROLE r",
    );
    assert!(a.cortex_allowed(&s));
}

#[test]
fn disabled_user_cannot_use_a_reenabled_token() {
    let (mut a, mut sess) = setup();
    let secret = secret_of(&sql(
        &mut a,
        &mut sess,
        "ALTER USER svc ADD PAT t ROLE_RESTRICTION = r",
    ));
    sql(&mut a, &mut sess, "ALTER USER svc SET DISABLED = TRUE");
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc MODIFY PAT t SET DISABLED = FALSE",
    );
    assert_eq!(
        pat_login(&mut a, &secret, now())
            .map(|_| ())
            .unwrap_err()
            .code,
        "394400"
    );
    sql(&mut a, &mut sess, "ALTER USER svc SET DISABLED = FALSE");
    assert!(pat_login(&mut a, &secret, now()).is_ok());
}
