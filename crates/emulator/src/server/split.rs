//! Statement text → statements, and a statement's kind and object for the request log.
//!
//! Interim shim until `snowpat_sql::lexer::split_statements`, `Statement::kind` and
//! `Statement::object` land on the `sql` branch; the server calls only these three functions.

use snowpat_sql::ast::Statement;
use snowpat_sql::ParseError;

/// Splits at top-level `;`, honouring `'...'` (with `''` and backslash escapes), `"..."`,
/// `$$...$$`, `--`/`//` line comments and `/* */` block comments. Pieces holding nothing but
/// whitespace and comments are dropped. An unterminated literal or comment is a syntax error.
pub(crate) fn split_statements(text: &str) -> Result<Vec<String>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    let mut has_content = false;
    let mut i = 0;
    let (mut line, mut col) = (1usize, 0usize);
    let eof = |line: usize, col: usize| ParseError {
        line,
        position: col,
        unexpected: "<EOF>".into(),
    };
    macro_rules! advance {
        () => {{
            let c = chars[i];
            current.push(c);
            if c == '\n' {
                line += 1;
                col = 0;
            } else {
                col += 1;
            }
            i += 1;
        }};
    }
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            ';' => {
                if has_content {
                    out.push(current.trim().to_owned());
                }
                current.clear();
                has_content = false;
                col += 1;
                i += 1;
            }
            '\'' | '"' => {
                has_content = true;
                let (start_line, start_col) = (line, col);
                advance!();
                loop {
                    if i >= chars.len() {
                        return Err(eof(start_line, start_col));
                    }
                    let d = chars[i];
                    if c == '\'' && d == '\\' && i + 1 < chars.len() {
                        advance!();
                        advance!();
                        continue;
                    }
                    advance!();
                    if d == c {
                        if chars.get(i) == Some(&c) {
                            advance!();
                            continue;
                        }
                        break;
                    }
                }
            }
            '$' if next == Some('$') => {
                has_content = true;
                let (start_line, start_col) = (line, col);
                advance!();
                advance!();
                loop {
                    if i + 1 >= chars.len() {
                        return Err(eof(start_line, start_col));
                    }
                    if chars[i] == '$' && chars[i + 1] == '$' {
                        advance!();
                        advance!();
                        break;
                    }
                    advance!();
                }
            }
            '-' if next == Some('-') => {
                while i < chars.len() && chars[i] != '\n' {
                    advance!();
                }
            }
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    advance!();
                }
            }
            '/' if next == Some('*') => {
                let (start_line, start_col) = (line, col);
                advance!();
                advance!();
                loop {
                    if i + 1 >= chars.len() {
                        return Err(eof(start_line, start_col));
                    }
                    if chars[i] == '*' && chars[i + 1] == '/' {
                        advance!();
                        advance!();
                        break;
                    }
                    advance!();
                }
            }
            c if c.is_whitespace() => advance!(),
            _ => {
                has_content = true;
                advance!();
            }
        }
    }
    if has_content {
        out.push(current.trim().to_owned());
    }
    Ok(out)
}

/// The statement kind for logs and scripted faults (`CREATE USER`, `ALTER USER`, ...): the AST
/// variant's name in words. Only the variant name is taken from `Debug`, never a field, so no
/// literal can leak.
pub(crate) fn kind_of(statement: &Statement) -> String {
    let debug = format!("{statement:?}");
    let name: String = debug
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let mut words = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            words.push(' ');
        }
        words.push(c.to_ascii_uppercase());
    }
    words
}

/// The object a statement names, for the request log.
pub(crate) fn object_of(statement: &Statement) -> Option<String> {
    let _ = statement;
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_top_level_semicolons() {
        let parts =
            split_statements("select 'a;b'; -- x;\n create user \"q;\" /* ; */; $$;$$ ;  ;")
                .unwrap();
        assert_eq!(
            parts,
            vec![
                "select 'a;b'",
                "-- x;\n create user \"q;\" /* ; */",
                "$$;$$"
            ]
        );
        assert!(split_statements("  ; -- only a comment\n")
            .unwrap()
            .is_empty());
        assert!(split_statements("select 'it''s'").unwrap().len() == 1);
        assert!(split_statements("select 'open").is_err());
    }
}
