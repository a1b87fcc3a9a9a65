//! Tokens of Snowflake SQL (`snowflake-behaviour.md` §1).
//!
//! * Unquoted words `[A-Za-z_][A-Za-z0-9_$]*` (keywords and identifiers; folding to upper case is
//!   the parser's business, the token keeps the spelling).
//! * Double-quoted identifiers (`""` stands for `"`), kept verbatim.
//! * String literals: single quotes with `''` and backslash escapes, or `$$...$$` verbatim (§1.3).
//! * Numbers (`1`, `1.5`, `2e10`), punctuation, comments `--`, `//` and `/* */`.
//!
//! Positions are Snowflake's: 1-based line, 0-based column counted in characters.

use crate::parser::ParseError;

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// An unquoted word as written (keyword or identifier).
    Word(String),
    /// A double-quoted identifier's content (`""` already turned into `"`).
    QuotedIdent(String),
    /// A string literal's content after escape processing (`'...'` or `$$...$$`).
    String(String),
    /// A number as written.
    Number(String),
    /// `;`, which ends a statement.
    Semicolon,
    /// Any other single character (`(`, `)`, `,`, `.`, `=`, `*`, `-`, ... and stray characters).
    Symbol(char),
}

/// A token with its place in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    /// 1-based line of the first character.
    pub line: usize,
    /// 0-based column (in characters) of the first character.
    pub column: usize,
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset just past the last character.
    pub end: usize,
}

impl Token {
    /// The token's source text.
    pub fn text<'a>(&self, source: &'a str) -> &'a str {
        source.get(self.start..self.end).unwrap_or("")
    }

    /// Whether the token is the unquoted word `kw` (case-insensitive).
    pub fn is_word(&self, kw: &str) -> bool {
        matches!(&self.kind, TokenKind::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    /// Whether the token is the symbol `c`.
    pub fn is_symbol(&self, c: char) -> bool {
        self.kind == TokenKind::Symbol(c)
    }
}

/// Snowflake's reserved keywords: as names they must be double-quoted (§1.1, "A keyword used as a
/// name must be quoted"). The list is Snowflake's documented reserved list.
pub const RESERVED_KEYWORDS: &[&str] = &[
    "ACCOUNT",
    "ALL",
    "ALTER",
    "AND",
    "ANY",
    "AS",
    "BETWEEN",
    "BY",
    "CASE",
    "CAST",
    "CHECK",
    "COLUMN",
    "CONNECT",
    "CONNECTION",
    "CONSTRAINT",
    "CREATE",
    "CROSS",
    "CURRENT",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "CURRENT_USER",
    "DATABASE",
    "DELETE",
    "DISTINCT",
    "DROP",
    "ELSE",
    "EXISTS",
    "FALSE",
    "FOLLOWING",
    "FOR",
    "FROM",
    "FULL",
    "GRANT",
    "GROUP",
    "GSCLUSTER",
    "HAVING",
    "ILIKE",
    "IN",
    "INCREMENT",
    "INNER",
    "INSERT",
    "INTERSECT",
    "INTO",
    "IS",
    "ISSUE",
    "JOIN",
    "LATERAL",
    "LEFT",
    "LIKE",
    "LOCALTIME",
    "LOCALTIMESTAMP",
    "MINUS",
    "NATURAL",
    "NOT",
    "NULL",
    "OF",
    "ON",
    "OR",
    "ORDER",
    "ORGANIZATION",
    "QUALIFY",
    "REGEXP",
    "REVOKE",
    "RIGHT",
    "RLIKE",
    "ROW",
    "ROWS",
    "SAMPLE",
    "SCHEMA",
    "SELECT",
    "SET",
    "SOME",
    "START",
    "TABLE",
    "TABLESAMPLE",
    "THEN",
    "TO",
    "TRIGGER",
    "TRUE",
    "TRY_CAST",
    "UNION",
    "UNIQUE",
    "UPDATE",
    "USING",
    "VALUES",
    "VIEW",
    "WHEN",
    "WHENEVER",
    "WHERE",
    "WITH",
];

/// Whether `word` is a reserved keyword (case-insensitive).
pub fn is_reserved(word: &str) -> bool {
    RESERVED_KEYWORDS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(word))
}

/// Whether `c` may start an unquoted identifier.
pub fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

/// Whether `c` may continue an unquoted identifier.
pub fn is_ident_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

struct Cursor<'a> {
    src: &'a str,
    /// Byte offset.
    pos: usize,
    line: usize,
    column: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.src[self.pos..].chars().nth(n)
    }

    fn starts_with(&self, s: &str) -> bool {
        self.src[self.pos..].starts_with(s)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 0;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn error_here(&self, line: usize, column: usize, unexpected: &str) -> ParseError {
        ParseError {
            line,
            position: column,
            unexpected: unexpected.to_string(),
        }
    }
}

/// Splits `text` into tokens, skipping blanks and comments.
///
/// An unterminated string, quoted identifier, `$$` literal or `/* */` comment is a [`ParseError`]
/// positioned at its opening delimiter.
pub fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut cur = Cursor {
        src: text,
        pos: 0,
        line: 1,
        column: 0,
    };
    let mut tokens = Vec::new();
    while let Some(c) = cur.peek() {
        let (line, column, start) = (cur.line, cur.column, cur.pos);
        if c.is_whitespace() {
            cur.bump();
            continue;
        }
        if cur.starts_with("--") || cur.starts_with("//") {
            while let Some(c) = cur.peek() {
                if c == '\n' {
                    break;
                }
                cur.bump();
            }
            continue;
        }
        if cur.starts_with("/*") {
            cur.bump();
            cur.bump();
            loop {
                if cur.starts_with("*/") {
                    cur.bump();
                    cur.bump();
                    break;
                }
                if cur.bump().is_none() {
                    return Err(cur.error_here(line, column, "/*"));
                }
            }
            continue;
        }
        let kind = if is_ident_start(c) {
            while cur.peek().is_some_and(is_ident_continue) {
                cur.bump();
            }
            TokenKind::Word(text[start..cur.pos].to_string())
        } else if c.is_ascii_digit() {
            lex_number(&mut cur);
            TokenKind::Number(text[start..cur.pos].to_string())
        } else if c == '"' {
            cur.bump();
            let mut content = String::new();
            loop {
                match cur.bump() {
                    None => return Err(cur.error_here(line, column, "\"")),
                    Some('"') => {
                        if cur.peek() == Some('"') {
                            cur.bump();
                            content.push('"');
                        } else {
                            break;
                        }
                    }
                    Some(ch) => content.push(ch),
                }
            }
            TokenKind::QuotedIdent(content)
        } else if c == '\'' {
            cur.bump();
            TokenKind::String(lex_string_body(&mut cur, line, column)?)
        } else if cur.starts_with("$$") {
            cur.bump();
            cur.bump();
            let body_start = cur.pos;
            loop {
                if cur.starts_with("$$") {
                    let content = text[body_start..cur.pos].to_string();
                    cur.bump();
                    cur.bump();
                    break TokenKind::String(content);
                }
                if cur.bump().is_none() {
                    return Err(cur.error_here(line, column, "$$"));
                }
            }
        } else if c == ';' {
            cur.bump();
            TokenKind::Semicolon
        } else {
            cur.bump();
            TokenKind::Symbol(c)
        };
        tokens.push(Token {
            kind,
            line,
            column,
            start,
            end: cur.pos,
        });
    }
    Ok(tokens)
}

fn lex_number(cur: &mut Cursor<'_>) {
    while cur.peek().is_some_and(|c| c.is_ascii_digit()) {
        cur.bump();
    }
    if cur.peek() == Some('.') && cur.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
        cur.bump();
        while cur.peek().is_some_and(|c| c.is_ascii_digit()) {
            cur.bump();
        }
    }
    if matches!(cur.peek(), Some('e' | 'E')) {
        let digit_at = if matches!(cur.peek_at(1), Some('+' | '-')) {
            2
        } else {
            1
        };
        if cur.peek_at(digit_at).is_some_and(|c| c.is_ascii_digit()) {
            for _ in 0..digit_at {
                cur.bump();
            }
            while cur.peek().is_some_and(|c| c.is_ascii_digit()) {
                cur.bump();
            }
        }
    }
}

/// Reads the rest of a single-quoted literal (the opening quote is consumed) and interprets `''`
/// and the backslash escapes of §1.3: `\\ \' \" \n \t \r \b \f \0`, `\ooo` (octal), `\xhh` (hex),
/// `\uhhhh`; any other `\c` stands for `c`.
fn lex_string_body(cur: &mut Cursor<'_>, line: usize, column: usize) -> Result<String, ParseError> {
    let mut out = String::new();
    loop {
        let Some(c) = cur.bump() else {
            return Err(cur.error_here(line, column, "'"));
        };
        match c {
            '\'' => {
                if cur.peek() == Some('\'') {
                    cur.bump();
                    out.push('\'');
                } else {
                    return Ok(out);
                }
            }
            '\\' => {
                let Some(e) = cur.bump() else {
                    return Err(cur.error_here(line, column, "'"));
                };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    '0'..='7' => {
                        // `\ooo`: exactly three octal digits; otherwise `\0` is NUL and other
                        // digits stand for themselves.
                        let d1 = cur.peek();
                        let d2 = cur.peek_at(1);
                        match (d1, d2) {
                            (Some(a @ '0'..='7'), Some(b @ '0'..='7')) => {
                                cur.bump();
                                cur.bump();
                                let value = (e as u32 - '0' as u32) * 64
                                    + (a as u32 - '0' as u32) * 8
                                    + (b as u32 - '0' as u32);
                                out.push(char::from_u32(value).unwrap_or('\u{fffd}'));
                            }
                            _ if e == '0' => out.push('\0'),
                            _ => out.push(e),
                        }
                    }
                    'x' => {
                        let hex: Option<u32> = hex_digits(cur, 2);
                        match hex.and_then(char::from_u32) {
                            Some(ch) => {
                                cur.bump();
                                cur.bump();
                                out.push(ch);
                            }
                            None => out.push('x'),
                        }
                    }
                    'u' => {
                        let hex: Option<u32> = hex_digits(cur, 4);
                        match hex.and_then(char::from_u32) {
                            Some(ch) => {
                                for _ in 0..4 {
                                    cur.bump();
                                }
                                out.push(ch);
                            }
                            None => out.push('u'),
                        }
                    }
                    other => out.push(other),
                }
            }
            other => out.push(other),
        }
    }
}

/// The value of the next `n` characters when they are all hex digits (nothing is consumed).
fn hex_digits(cur: &Cursor<'_>, n: usize) -> Option<u32> {
    let mut value = 0u32;
    for i in 0..n {
        let d = cur.peek_at(i)?.to_digit(16)?;
        value = value * 16 + d;
    }
    Some(value)
}

/// Splits a text into its statements (§1.3: a statement ends at `;` or at the end of the text).
///
/// Each element is the statement's text from its first token to its last, without the `;` and
/// without comments before or after it; statements made only of blanks and comments are skipped.
/// A `;` inside a literal, quoted identifier or comment does not split.
pub fn split_statements(text: &str) -> Result<Vec<String>, ParseError> {
    let tokens = tokenize(text)?;
    Ok(split_tokens(&tokens)
        .into_iter()
        .map(|group| {
            let start = group.first().map_or(0, |t| t.start);
            let end = group.last().map_or(0, |t| t.end);
            text[start..end].to_string()
        })
        .collect())
}

/// Groups tokens into statements, dropping the `;` and empty statements.
pub(crate) fn split_tokens(tokens: &[Token]) -> Vec<&[Token]> {
    tokens
        .split(|t| t.kind == TokenKind::Semicolon)
        .filter(|group| !group.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        tokenize(text)
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    fn string_of(text: &str) -> Option<String> {
        match kinds(text).as_slice() {
            [TokenKind::String(s)] => Some(s.clone()),
            _ => None,
        }
    }

    #[test]
    fn s1_1_quoted_identifier_doubles_quotes() {
        assert_eq!(
            kinds(r#""quote""andunquote""""#),
            vec![TokenKind::QuotedIdent("quote\"andunquote\"".into())]
        );
    }

    #[test]
    fn s1_3_string_escapes() {
        assert_eq!(string_of("'it''s'").as_deref(), Some("it's"));
        assert_eq!(string_of(r"'it\'s'").as_deref(), Some("it's"));
        assert_eq!(string_of(r"'a\\b'").as_deref(), Some(r"a\b"));
        assert_eq!(
            string_of(r"'\n\t\r\0\b\f'").as_deref(),
            Some("\n\t\r\0\u{8}\u{c}")
        );
        assert_eq!(string_of(r"'\u00e9\x41\101'").as_deref(), Some("éAA"));
        assert_eq!(string_of(r"'\q\x\uZZ'").as_deref(), Some("qxuZZ"));
        assert_eq!(string_of("$$a;'\\n$$").as_deref(), Some("a;'\\n"));
    }

    #[test]
    fn s1_3_comments_are_skipped() {
        assert_eq!(
            kinds("a -- x ; y\n/* ; */ b // c;\n"),
            vec![TokenKind::Word("a".into()), TokenKind::Word("b".into())]
        );
    }

    #[test]
    fn positions_are_line_and_column() {
        let toks = tokenize("a\n  bé c").unwrap_or_default();
        let pos: Vec<(usize, usize)> = toks.iter().map(|t| (t.line, t.column)).collect();
        assert_eq!(pos, vec![(1, 0), (2, 2), (2, 3), (2, 5)]);
    }

    #[test]
    fn numbers_and_qualified_names() {
        assert_eq!(
            kinds("1.5 a.b 2e3 -1"),
            vec![
                TokenKind::Number("1.5".into()),
                TokenKind::Word("a".into()),
                TokenKind::Symbol('.'),
                TokenKind::Word("b".into()),
                TokenKind::Number("2e3".into()),
                TokenKind::Symbol('-'),
                TokenKind::Number("1".into()),
            ]
        );
    }

    #[test]
    fn unterminated_literals_are_errors() {
        for (text, line, pos, tok) in [
            ("select 'abc", 1, 7, "'"),
            ("select\n \"abc", 2, 1, "\""),
            ("x $$abc$", 1, 2, "$$"),
            ("x /* abc", 1, 2, "/*"),
            ("'abc\\", 1, 0, "'"),
        ] {
            let err = tokenize(text).err();
            assert_eq!(
                err,
                Some(ParseError {
                    line,
                    position: pos,
                    unexpected: tok.into()
                }),
                "{text}"
            );
        }
    }

    #[test]
    fn split_statements_respects_literals_and_comments() {
        let parts = split_statements(
            "select 1; ;\n -- only a comment\n; select ';' -- ;\n; select $$;$$ /* ; */ ;select \"a;b\"",
        );
        assert_eq!(
            parts,
            Ok(vec![
                "select 1".to_string(),
                "select ';'".to_string(),
                "select $$;$$".to_string(),
                "select \"a;b\"".to_string(),
            ])
        );
        assert_eq!(split_statements(" -- nothing\n /* */ ;;"), Ok(vec![]));
    }
}
