//! Text → statements (`snowflake-behaviour.md` §5), with Snowflake-shaped syntax errors (`001003`).
//!
//! Names are resolved while parsing (§1.1): unquoted identifiers fold to upper case, quoted ones
//! keep their case, `IDENTIFIER('...')` is parsed with the same rules, and a role given as a string
//! literal (`ROLE_RESTRICTION = 'r'`) resolves like an unquoted identifier unless its content is
//! itself double-quoted (§1.2). The parser does not judge which property names are valid (the
//! emulator does), except where the tree is typed (the PAT options of §5.12).

use crate::ast::*;
use crate::lexer::{is_reserved, split_tokens, tokenize, Token, TokenKind};

/// A syntax error, positioned as Snowflake reports it (`001003`).
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("syntax error line {line} at position {position} unexpected '{unexpected}'.")]
pub struct ParseError {
    /// 1-based line of the offending token.
    pub line: usize,
    /// 0-based column of the offending token on that line.
    pub position: usize,
    /// The offending token's text (`<EOF>` at the end of input).
    pub unexpected: String,
}

/// The longest identifier Snowflake accepts, in characters (§1.1).
pub const MAX_IDENT_CHARS: usize = 255;

/// Parses exactly one statement (a trailing `;` is allowed).
pub fn parse_statement(text: &str) -> Result<Statement, ParseError> {
    let tokens = tokenize(text)?;
    let groups = group_bounds(&tokens);
    match groups.as_slice() {
        [] => Err(eof_error(text, &tokens, tokens.len())),
        [(start, end)] => parse_group(text, &tokens, *start, *end),
        [_, (second, _), ..] => Err(token_error(text, &tokens[*second])),
    }
}

/// Parses every statement of a text (statements end at `;` or at the end of the text; empty ones
/// are skipped).
pub fn parse_statements(text: &str) -> Result<Vec<Statement>, ParseError> {
    let tokens = tokenize(text)?;
    group_bounds(&tokens)
        .into_iter()
        .map(|(start, end)| parse_group(text, &tokens, start, end))
        .collect()
}

/// `[start, end)` token ranges of the non-empty statements.
fn group_bounds(tokens: &[Token]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if t.kind == TokenKind::Semicolon {
            if i > start {
                out.push((start, i));
            }
            start = i + 1;
        }
    }
    if tokens.len() > start {
        out.push((start, tokens.len()));
    }
    debug_assert_eq!(out.len(), split_tokens(tokens).len());
    out
}

fn parse_group(
    text: &str,
    tokens: &[Token],
    start: usize,
    end: usize,
) -> Result<Statement, ParseError> {
    let eof = eof_error(text, tokens, end);
    let mut p = Parser {
        src: text,
        toks: &tokens[start..end],
        pos: 0,
        eof,
        depth: 0,
    };
    let stmt = p.statement()?;
    p.expect_end()?;
    Ok(stmt)
}

fn token_error(text: &str, tok: &Token) -> ParseError {
    ParseError {
        line: tok.line,
        position: tok.column,
        unexpected: tok.text(text).to_string(),
    }
}

/// The `<EOF>` error of a statement ending before token `end` (a `;`, or the end of the text).
fn eof_error(text: &str, tokens: &[Token], end: usize) -> ParseError {
    let (line, position) = match tokens.get(end) {
        Some(t) => (t.line, t.column),
        None => {
            let line = 1 + text.matches('\n').count();
            let last = text.rsplit('\n').next().unwrap_or("");
            (line, last.chars().count())
        }
    };
    ParseError {
        line,
        position,
        unexpected: "<EOF>".into(),
    }
}

type PResult<T> = Result<T, ParseError>;

struct Parser<'a> {
    src: &'a str,
    toks: &'a [Token],
    pos: usize,
    eof: ParseError,
    /// Nesting of `( ... )` values and function arguments, bounded by [`MAX_NESTING`].
    depth: usize,
}

/// The deepest nesting of parenthesised values or function calls accepted (no real statement
/// comes close; the bound keeps hostile input from exhausting the stack).
const MAX_NESTING: usize = 32;

/// The three PAT option values MODIFY ... SET can change.
type ModifySet = (Option<bool>, Option<i64>, Option<String>);

impl<'a> Parser<'a> {
    // ---------------------------------------------------------------- token plumbing

    fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.pos)
    }

    fn peek_at(&self, n: usize) -> Option<&'a Token> {
        self.toks.get(self.pos + n)
    }

    fn advance(&mut self) -> Option<&'a Token> {
        let t = self.toks.get(self.pos)?;
        self.pos += 1;
        Some(t)
    }

    fn err(&self) -> ParseError {
        match self.peek() {
            Some(t) => token_error(self.src, t),
            None => self.eof.clone(),
        }
    }

    fn err_at(&self, tok: &Token) -> ParseError {
        token_error(self.src, tok)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    fn expect_end(&self) -> PResult<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.err())
        }
    }

    fn is_kw(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| t.is_word(kw))
    }

    fn is_kw_at(&self, n: usize, kw: &str) -> bool {
        self.peek_at(n).is_some_and(|t| t.is_word(kw))
    }

    fn is_sym(&self, c: char) -> bool {
        self.peek().is_some_and(|t| t.is_symbol(c))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes the words `kws` if they all follow, else nothing.
    fn eat_kws(&mut self, kws: &[&str]) -> bool {
        if kws.iter().enumerate().all(|(i, k)| self.is_kw_at(i, k)) {
            self.pos += kws.len();
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> PResult<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.err())
        }
    }

    fn expect_kws(&mut self, kws: &[&str]) -> PResult<()> {
        for k in kws {
            self.expect_kw(k)?;
        }
        Ok(())
    }

    fn eat_sym(&mut self, c: char) -> bool {
        if self.is_sym(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, c: char) -> PResult<()> {
        if self.eat_sym(c) {
            Ok(())
        } else {
            Err(self.err())
        }
    }

    fn if_exists(&mut self) -> bool {
        self.eat_kws(&["IF", "EXISTS"])
    }

    fn if_not_exists(&mut self) -> bool {
        self.eat_kws(&["IF", "NOT", "EXISTS"])
    }

    // ---------------------------------------------------------------- names and literals

    /// Whether the next token can start an identifier (§1.1).
    fn at_ident(&self) -> bool {
        match self.peek().map(|t| &t.kind) {
            Some(TokenKind::Word(w)) => !is_reserved(w),
            Some(TokenKind::QuotedIdent(_)) => true,
            _ => false,
        }
    }

    /// One name part; `lenient` also accepts reserved words unquoted (property names, values).
    fn name_parts(&mut self, lenient: bool) -> PResult<Vec<Ident>> {
        let Some(tok) = self.peek() else {
            return Err(self.err());
        };
        match &tok.kind {
            TokenKind::Word(w) if w.eq_ignore_ascii_case("IDENTIFIER") && self.next_is_paren() => {
                self.pos += 2;
                let Some(lit) = self.advance() else {
                    return Err(self.err());
                };
                let TokenKind::String(content) = &lit.kind else {
                    return Err(self.err_at(lit));
                };
                let parts = parse_identifier_literal(content).ok_or_else(|| self.err_at(lit))?;
                self.expect_sym(')')?;
                Ok(parts)
            }
            TokenKind::Word(w) if lenient || !is_reserved(w) => {
                self.pos += 1;
                checked_ident(w.to_ascii_uppercase())
                    .map(|i| vec![i])
                    .ok_or_else(|| self.err_at(tok))
            }
            TokenKind::QuotedIdent(q) => {
                self.pos += 1;
                checked_ident(q.clone())
                    .map(|i| vec![i])
                    .ok_or_else(|| self.err_at(tok))
            }
            _ => Err(self.err()),
        }
    }

    fn next_is_paren(&self) -> bool {
        self.peek_at(1).is_some_and(|t| t.is_symbol('('))
    }

    /// A single (unqualified) identifier.
    fn ident(&mut self) -> PResult<Ident> {
        let start = self.peek();
        let mut parts = self.name_parts(false)?;
        match (parts.pop(), parts.is_empty()) {
            (Some(one), true) => Ok(one),
            _ => Err(start.map_or_else(|| self.err(), |t| self.err_at(t))),
        }
    }

    /// An identifier where reserved words are also accepted unquoted (property names).
    fn lenient_ident(&mut self) -> PResult<Ident> {
        let start = self.peek();
        let mut parts = self.name_parts(true)?;
        match (parts.pop(), parts.is_empty()) {
            (Some(one), true) => Ok(one),
            _ => Err(start.map_or_else(|| self.err(), |t| self.err_at(t))),
        }
    }

    /// `a`, `a.b` or `a.b.c` (at most three parts).
    fn object_name(&mut self) -> PResult<ObjectName> {
        self.object_name_with(false)
    }

    fn object_name_with(&mut self, lenient: bool) -> PResult<ObjectName> {
        let mut parts = self.name_parts(lenient)?;
        while self.is_sym('.') {
            self.pos += 1;
            parts.extend(self.name_parts(lenient)?);
        }
        if parts.len() > 3 {
            return Err(self.err());
        }
        Ok(ObjectName(parts))
    }

    fn string(&mut self) -> PResult<String> {
        match self.peek().map(|t| &t.kind) {
            Some(TokenKind::String(s)) => {
                self.pos += 1;
                Ok(s.clone())
            }
            _ => Err(self.err()),
        }
    }

    /// An integer with an optional sign.
    fn integer(&mut self) -> PResult<i64> {
        let start = self.peek();
        let negative = if self.eat_sym('-') {
            true
        } else {
            self.eat_sym('+');
            false
        };
        let Some(tok) = self.peek() else {
            return Err(self.err());
        };
        let TokenKind::Number(n) = &tok.kind else {
            return Err(self.err());
        };
        let text = if negative { format!("-{n}") } else { n.clone() };
        let value = text
            .parse::<i64>()
            .map_err(|_| start.map_or_else(|| self.err(), |t| self.err_at(t)))?;
        self.pos += 1;
        Ok(value)
    }

    fn u64(&mut self) -> PResult<u64> {
        match self.peek().map(|t| &t.kind) {
            Some(TokenKind::Number(n)) => {
                let v = n.parse::<u64>().map_err(|_| self.err())?;
                self.pos += 1;
                Ok(v)
            }
            _ => Err(self.err()),
        }
    }

    fn boolean(&mut self) -> PResult<bool> {
        if self.eat_kw("TRUE") {
            Ok(true)
        } else if self.eat_kw("FALSE") {
            Ok(false)
        } else {
            Err(self.err())
        }
    }

    /// A role or policy name given as an identifier or as a string literal (§1.2).
    fn ident_or_string(&mut self) -> PResult<Ident> {
        match self.peek() {
            Some(tok) => match &tok.kind {
                TokenKind::String(s) => {
                    self.pos += 1;
                    resolve_string_name(s).ok_or_else(|| self.err_at(tok))
                }
                _ => self.ident(),
            },
            None => Err(self.err()),
        }
    }

    // ---------------------------------------------------------------- values and properties

    /// Whether a property `NAME =` follows.
    fn at_property(&self) -> bool {
        let name_ok = matches!(
            self.peek().map(|t| &t.kind),
            Some(TokenKind::Word(_) | TokenKind::QuotedIdent(_))
        );
        name_ok && self.peek_at(1).is_some_and(|t| t.is_symbol('='))
    }

    fn property(&mut self) -> PResult<Property> {
        let name = self.lenient_ident()?;
        self.expect_sym('=')?;
        let value = self.value()?;
        Ok(Property { name, value })
    }

    /// `NAME = value` items separated by blanks, commas or new lines, until something else.
    fn properties(&mut self) -> PResult<Vec<Property>> {
        let mut props = Vec::new();
        loop {
            if self.at_property() {
                props.push(self.property()?);
            } else if !props.is_empty() && self.is_sym(',') && {
                // A comma between properties (never a trailing one).
                let save = self.pos;
                self.pos += 1;
                let ok = self.at_property();
                self.pos = save;
                ok
            } {
                self.pos += 1;
            } else {
                return Ok(props);
            }
        }
    }

    /// At least one property.
    fn properties1(&mut self) -> PResult<Vec<Property>> {
        let props = self.properties()?;
        if props.is_empty() {
            return Err(self.err());
        }
        Ok(props)
    }

    /// `name [, name ...]` (UNSET lists).
    fn ident_list(&mut self) -> PResult<Vec<Ident>> {
        let mut out = vec![self.lenient_ident()?];
        while self.eat_sym(',') {
            out.push(self.lenient_ident()?);
        }
        Ok(out)
    }

    fn value(&mut self) -> PResult<Value> {
        if self.depth >= MAX_NESTING {
            return Err(self.err());
        }
        self.depth += 1;
        let value = self.value_inner();
        self.depth -= 1;
        value
    }

    fn value_inner(&mut self) -> PResult<Value> {
        let Some(tok) = self.peek() else {
            return Err(self.err());
        };
        match &tok.kind {
            TokenKind::String(s) => {
                self.pos += 1;
                Ok(Value::String(s.clone()))
            }
            TokenKind::Number(n) => {
                self.pos += 1;
                Ok(Value::Number(n.clone()))
            }
            TokenKind::Symbol(c @ ('-' | '+')) => {
                let sign = *c;
                match self.peek_at(1).map(|t| &t.kind) {
                    Some(TokenKind::Number(n)) => {
                        self.pos += 2;
                        Ok(Value::Number(if sign == '-' {
                            format!("-{n}")
                        } else {
                            n.clone()
                        }))
                    }
                    _ => {
                        self.pos += 1;
                        Err(self.err())
                    }
                }
            }
            TokenKind::Symbol('(') => {
                self.pos += 1;
                if self.eat_sym(')') {
                    return Ok(Value::List(Vec::new()));
                }
                if self.at_property() {
                    let props = self.properties1()?;
                    self.expect_sym(')')?;
                    return Ok(Value::Properties(props));
                }
                let mut items = vec![self.value()?];
                while self.eat_sym(',') {
                    items.push(self.value()?);
                }
                self.expect_sym(')')?;
                Ok(Value::List(items))
            }
            TokenKind::Word(w) if w.eq_ignore_ascii_case("TRUE") => {
                self.pos += 1;
                Ok(Value::Bool(true))
            }
            TokenKind::Word(w) if w.eq_ignore_ascii_case("FALSE") => {
                self.pos += 1;
                Ok(Value::Bool(false))
            }
            TokenKind::Word(w) if w.eq_ignore_ascii_case("NULL") => {
                self.pos += 1;
                Ok(Value::Null)
            }
            TokenKind::Word(_) | TokenKind::QuotedIdent(_) => {
                Ok(Value::Name(self.object_name_with(true)?))
            }
            _ => Err(self.err()),
        }
    }

    /// `[COMMENT = '...']` and nothing else.
    fn optional_comment(&mut self) -> PResult<Option<String>> {
        if self.is_kw("COMMENT") && self.peek_at(1).is_some_and(|t| t.is_symbol('=')) {
            self.pos += 2;
            Ok(Some(self.string()?))
        } else {
            Ok(None)
        }
    }

    // ---------------------------------------------------------------- statements

    fn statement(&mut self) -> PResult<Statement> {
        let Some(first) = self.advance() else {
            return Err(self.err());
        };
        let TokenKind::Word(w) = &first.kind else {
            return Err(self.err_at(first));
        };
        match w.to_ascii_uppercase().as_str() {
            "CREATE" => self.create(),
            "ALTER" => self.alter(),
            "DROP" => self.drop(),
            "DESC" | "DESCRIBE" => self.describe(),
            "GRANT" => self.grant(),
            "REVOKE" => self.revoke(),
            "SHOW" => self.show(),
            "USE" => self.use_(),
            "SELECT" => self.select().map(Statement::Select),
            "BEGIN" => {
                let _ = self.eat_kw("TRANSACTION") || self.eat_kw("WORK");
                Ok(Statement::Begin)
            }
            "START" => {
                self.expect_kw("TRANSACTION")?;
                Ok(Statement::Begin)
            }
            "COMMIT" => {
                self.eat_kw("WORK");
                Ok(Statement::Commit)
            }
            "ROLLBACK" => {
                self.eat_kw("WORK");
                Ok(Statement::Rollback)
            }
            _ => Err(self.err_at(first)),
        }
    }

    /// `[IF NOT EXISTS]`, refused after `OR REPLACE` (§5.1: the two together are `001003`).
    fn create_if_not_exists(&mut self, or_replace: bool) -> PResult<bool> {
        if or_replace && self.is_kw("IF") {
            return Err(self.err());
        }
        Ok(self.if_not_exists())
    }

    fn create(&mut self) -> PResult<Statement> {
        let mode = if self.eat_kws(&["OR", "REPLACE"]) {
            CreateMode::OrReplace
        } else if self.eat_kws(&["OR", "ALTER"]) {
            CreateMode::OrAlter
        } else {
            CreateMode::Create
        };
        if mode == CreateMode::OrAlter && !self.is_kw("AUTHENTICATION") {
            return Err(self.err());
        }
        let or_replace = mode == CreateMode::OrReplace;
        if self.eat_kw("USER") {
            let if_not_exists = self.create_if_not_exists(or_replace)?;
            let name = self.ident()?;
            let properties = self.properties()?;
            return Ok(Statement::CreateUser {
                or_replace,
                if_not_exists,
                name,
                properties,
            });
        }
        if self.eat_kw("ROLE") {
            let if_not_exists = self.create_if_not_exists(or_replace)?;
            let name = self.ident()?;
            let comment = self.optional_comment()?;
            return Ok(Statement::CreateRole {
                or_replace,
                if_not_exists,
                name,
                comment,
            });
        }
        if self.eat_kw("DATABASE") {
            let if_not_exists = self.create_if_not_exists(or_replace)?;
            let name = self.ident()?;
            let comment = self.optional_comment()?;
            return Ok(Statement::CreateDatabase {
                or_replace,
                if_not_exists,
                name,
                comment,
            });
        }
        if self.eat_kw("SCHEMA") {
            let if_not_exists = self.create_if_not_exists(or_replace)?;
            let name = self.schema_name()?;
            let comment = self.optional_comment()?;
            return Ok(Statement::CreateSchema {
                or_replace,
                if_not_exists,
                name,
                comment,
            });
        }
        if self.eat_kws(&["AUTHENTICATION", "POLICY"]) {
            let if_not_exists = self.create_if_not_exists(mode != CreateMode::Create)?;
            let name = self.object_name()?;
            let properties = self.properties()?;
            return Ok(Statement::CreateAuthenticationPolicy {
                create: mode,
                if_not_exists,
                name,
                properties,
            });
        }
        if self.eat_kws(&["NETWORK", "RULE"]) {
            let if_not_exists = self.create_if_not_exists(or_replace)?;
            let name = self.object_name()?;
            let properties = self.properties()?;
            return Ok(Statement::CreateNetworkRule {
                or_replace,
                if_not_exists,
                name,
                properties,
            });
        }
        if self.eat_kws(&["NETWORK", "POLICY"]) {
            let if_not_exists = self.create_if_not_exists(or_replace)?;
            let name = self.ident()?;
            let properties = self.properties()?;
            return Ok(Statement::CreateNetworkPolicy {
                or_replace,
                if_not_exists,
                name,
                properties,
            });
        }
        if self.eat_kw("SECRET") {
            let if_not_exists = self.create_if_not_exists(or_replace)?;
            let name = self.object_name()?;
            let properties = self.properties()?;
            return Ok(Statement::CreateSecret {
                or_replace,
                if_not_exists,
                name,
                properties,
            });
        }
        if self.eat_kws(&["SECURITY", "INTEGRATION"]) {
            let if_not_exists = self.create_if_not_exists(or_replace)?;
            let name = self.ident()?;
            let properties = self.properties()?;
            return Ok(Statement::CreateSecurityIntegration {
                or_replace,
                if_not_exists,
                name,
                properties,
            });
        }
        if let Some(kind) = self.runtime_kind() {
            let if_not_exists = self.create_if_not_exists(or_replace)?;
            let name = self.object_name()?;
            let in_compute_pool = if self.eat_kws(&["IN", "COMPUTE", "POOL"]) {
                Some(self.ident()?)
            } else {
                None
            };
            let specification = if self.eat_kws(&["FROM", "SPECIFICATION"]) {
                Some(self.string()?)
            } else {
                None
            };
            let properties = self.properties()?;
            return Ok(Statement::CreateObject {
                kind,
                or_replace,
                if_not_exists,
                name,
                in_compute_pool,
                specification,
                properties,
            });
        }
        Err(self.err())
    }

    /// The object kinds of §5.20/§5.21 (`Statement::CreateObject`).
    fn runtime_kind(&mut self) -> Option<ObjectKind> {
        if self.eat_kw("STAGE") {
            Some(ObjectKind::Stage)
        } else if self.eat_kws(&["IMAGE", "REPOSITORY"]) {
            Some(ObjectKind::ImageRepository)
        } else if self.eat_kws(&["COMPUTE", "POOL"]) {
            Some(ObjectKind::ComputePool)
        } else if self.eat_kws(&["EXTERNAL", "ACCESS", "INTEGRATION"]) {
            Some(ObjectKind::ExternalAccessIntegration)
        } else if self.eat_kw("SERVICE") {
            Some(ObjectKind::Service)
        } else if self.eat_kws(&["MCP", "SERVER"]) {
            Some(ObjectKind::McpServer)
        } else {
            None
        }
    }

    /// `[db.]schema`.
    fn schema_name(&mut self) -> PResult<ObjectName> {
        let start = self.peek();
        let name = self.object_name()?;
        if name.0.len() > 2 {
            return Err(start.map_or_else(|| self.err(), |t| self.err_at(t)));
        }
        Ok(name)
    }

    fn alter(&mut self) -> PResult<Statement> {
        if self.eat_kw("USER") {
            return self.alter_user();
        }
        if self.eat_kws(&["AUTHENTICATION", "POLICY"]) {
            let if_exists = self.if_exists();
            let name = self.object_name()?;
            let action = if self.eat_kws(&["RENAME", "TO"]) {
                AlterPolicyAction::Rename(self.object_name()?)
            } else if self.eat_kw("SET") {
                AlterPolicyAction::Set(self.properties1()?)
            } else if self.eat_kw("UNSET") {
                AlterPolicyAction::Unset(self.ident_list()?)
            } else {
                return Err(self.err());
            };
            return Ok(Statement::AlterAuthenticationPolicy {
                if_exists,
                name,
                action,
            });
        }
        if self.eat_kw("ACCOUNT") {
            return self.alter_account().map(Statement::AlterAccount);
        }
        if self.eat_kws(&["NETWORK", "POLICY"]) {
            let if_exists = self.if_exists();
            let name = self.ident()?;
            self.expect_kw("SET")?;
            let properties = self.properties1()?;
            return Ok(Statement::AlterNetworkPolicy {
                if_exists,
                name,
                properties,
            });
        }
        if self.eat_kw("SECRET") {
            let if_exists = self.if_exists();
            let name = self.object_name()?;
            self.expect_kw("SET")?;
            let properties = self.properties1()?;
            return Ok(Statement::AlterSecret {
                if_exists,
                name,
                properties,
            });
        }
        if self.eat_kws(&["SECURITY", "INTEGRATION"]) || self.eat_kw("INTEGRATION") {
            let if_exists = self.if_exists();
            let name = self.ident()?;
            self.expect_kw("SET")?;
            let properties = self.properties1()?;
            return Ok(Statement::AlterIntegration {
                if_exists,
                name,
                properties,
            });
        }
        if self.eat_kw("SESSION") {
            if self.eat_kw("SET") {
                return Ok(Statement::AlterSessionSet(self.properties1()?));
            }
            self.expect_kw("UNSET")?;
            return Ok(Statement::AlterSessionUnset(self.ident_list()?));
        }
        Err(self.err())
    }

    /// `FOR ALL {PERSON | SERVICE} USERS` (§5.10).
    fn policy_scope(&mut self) -> PResult<PolicyScope> {
        if !self.eat_kws(&["FOR", "ALL"]) {
            return Ok(PolicyScope::Account);
        }
        let scope = if self.eat_kw("PERSON") {
            PolicyScope::PersonUsers
        } else if self.eat_kw("SERVICE") {
            PolicyScope::ServiceUsers
        } else {
            return Err(self.err());
        };
        self.expect_kw("USERS")?;
        Ok(scope)
    }

    fn alter_account(&mut self) -> PResult<AlterAccountAction> {
        if self.eat_kw("SET") {
            if self.eat_kws(&["AUTHENTICATION", "POLICY"]) {
                let policy = self.object_name()?;
                let scope = self.policy_scope()?;
                let force = self.eat_kw("FORCE");
                return Ok(AlterAccountAction::SetAuthenticationPolicy {
                    policy,
                    scope,
                    force,
                });
            }
            if self.is_kw("NETWORK_POLICY") && self.peek_at(1).is_some_and(|t| t.is_symbol('=')) {
                let save = self.pos;
                self.pos += 2;
                match self.ident_or_string() {
                    Ok(name) if self.at_end() => {
                        return Ok(AlterAccountAction::SetNetworkPolicy(name));
                    }
                    _ => self.pos = save,
                }
            }
            return Ok(AlterAccountAction::SetParameters(self.properties1()?));
        }
        if self.eat_kw("UNSET") {
            if self.eat_kws(&["AUTHENTICATION", "POLICY"]) {
                let scope = self.policy_scope()?;
                return Ok(AlterAccountAction::UnsetAuthenticationPolicy { scope });
            }
            let names = self.ident_list()?;
            if names.len() == 1 && names[0].as_str() == "NETWORK_POLICY" {
                return Ok(AlterAccountAction::UnsetNetworkPolicy);
            }
            return Ok(AlterAccountAction::UnsetParameters(names));
        }
        Err(self.err())
    }

    /// Whether `PAT` or `PROGRAMMATIC` is `n` tokens ahead.
    fn pat_word_at(&self, n: usize) -> bool {
        self.is_kw_at(n, "PAT") || self.is_kw_at(n, "PROGRAMMATIC")
    }

    /// `PAT` or `PROGRAMMATIC ACCESS TOKEN`.
    fn pat_keyword(&mut self) -> PResult<()> {
        if self.eat_kw("PAT") {
            return Ok(());
        }
        self.expect_kws(&["PROGRAMMATIC", "ACCESS", "TOKEN"])
    }

    fn alter_user(&mut self) -> PResult<Statement> {
        let if_exists = self.if_exists();
        // §5.12: ADD/ROTATE/MODIFY/REMOVE followed by PAT/PROGRAMMATIC means no user name.
        let omitted = ["ADD", "ROTATE", "MODIFY", "REMOVE"]
            .iter()
            .any(|k| self.is_kw(k))
            && self.pat_word_at(1);
        let user = if omitted { None } else { Some(self.ident()?) };
        let action = self.alter_user_action()?;
        Ok(Statement::AlterUser {
            if_exists,
            user,
            action,
        })
    }

    fn alter_user_action(&mut self) -> PResult<AlterUserAction> {
        if self.eat_kws(&["RENAME", "TO"]) {
            return Ok(AlterUserAction::Rename(self.ident()?));
        }
        if self.eat_kw("SET") {
            if self.eat_kws(&["AUTHENTICATION", "POLICY"]) {
                let policy = self.object_name()?;
                let force = self.eat_kw("FORCE");
                return Ok(AlterUserAction::SetAuthenticationPolicy { policy, force });
            }
            return Ok(AlterUserAction::Set(self.properties1()?));
        }
        if self.eat_kw("UNSET") {
            if self.eat_kws(&["AUTHENTICATION", "POLICY"]) {
                return Ok(AlterUserAction::UnsetAuthenticationPolicy);
            }
            return Ok(AlterUserAction::Unset(self.ident_list()?));
        }
        if self.eat_kw("ADD") {
            self.pat_keyword()?;
            return self.add_pat().map(AlterUserAction::AddPat);
        }
        if self.eat_kw("ROTATE") {
            self.pat_keyword()?;
            let if_exists = self.if_exists();
            let name = self.ident()?;
            let expire_rotated_token_after_hours = if self.is_kw("EXPIRE_ROTATED_TOKEN_AFTER_HOURS")
            {
                self.pos += 1;
                self.expect_sym('=')?;
                Some(self.integer()?)
            } else {
                None
            };
            return Ok(AlterUserAction::RotatePat {
                if_exists,
                name,
                expire_rotated_token_after_hours,
            });
        }
        if self.eat_kw("MODIFY") {
            self.pat_keyword()?;
            let if_exists = self.if_exists();
            let name = self.ident()?;
            let change = if self.eat_kws(&["RENAME", "TO"]) {
                ModifyPat::Rename(self.ident()?)
            } else if self.eat_kw("SET") {
                let (disabled, mins, comment) = self.modify_pat_set()?;
                ModifyPat::Set {
                    disabled,
                    mins_to_bypass_network_policy_requirement: mins,
                    comment,
                }
            } else if self.eat_kw("UNSET") {
                let mut items = vec![self.pat_property()?];
                while self.eat_sym(',') {
                    items.push(self.pat_property()?);
                }
                ModifyPat::Unset(items)
            } else {
                return Err(self.err());
            };
            return Ok(AlterUserAction::ModifyPat {
                if_exists,
                name,
                change,
            });
        }
        if self.eat_kw("REMOVE") {
            self.pat_keyword()?;
            let if_exists = self.if_exists();
            let name = self.ident()?;
            return Ok(AlterUserAction::RemovePat { if_exists, name });
        }
        Err(self.err())
    }

    fn pat_property(&mut self) -> PResult<PatProperty> {
        if self.eat_kw("DISABLED") {
            Ok(PatProperty::Disabled)
        } else if self.eat_kw("MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT") {
            Ok(PatProperty::MinsToBypassNetworkPolicyRequirement)
        } else if self.eat_kw("COMMENT") {
            Ok(PatProperty::Comment)
        } else {
            Err(self.err())
        }
    }

    /// Option name of a typed option list: the word, upper-cased, followed by `=`.
    fn option_name(&mut self) -> Option<(&'a Token, String)> {
        let tok = self.peek()?;
        let TokenKind::Word(w) = &tok.kind else {
            return None;
        };
        if !self.peek_at(1).is_some_and(|t| t.is_symbol('=')) {
            return None;
        }
        self.pos += 2;
        Some((tok, w.to_ascii_uppercase()))
    }

    /// Skips one comma between two options.
    fn option_separator(&mut self, first: bool) {
        if !first && self.is_sym(',') && self.peek_at(2).is_some_and(|t| t.is_symbol('=')) {
            self.pos += 1;
        }
    }

    /// §5.12.1 options, in any order, separated by blanks or commas; each at most once.
    fn add_pat(&mut self) -> PResult<AddPat> {
        let if_not_exists = self.if_not_exists();
        let name = self.ident()?;
        let mut add = AddPat {
            if_not_exists,
            name,
            ..AddPat::default()
        };
        let mut first = true;
        loop {
            self.option_separator(first);
            first = false;
            let Some((tok, opt)) = self.option_name() else {
                return Ok(add);
            };
            let dup = match opt.as_str() {
                "ROLE_RESTRICTION" => add
                    .role_restriction
                    .replace(self.ident_or_string()?)
                    .is_some(),
                "DAYS_TO_EXPIRY" => add.days_to_expiry.replace(self.integer()?).is_some(),
                "MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT" => add
                    .mins_to_bypass_network_policy_requirement
                    .replace(self.integer()?)
                    .is_some(),
                "COMMENT" => add.comment.replace(self.string()?).is_some(),
                _ => true,
            };
            if dup {
                return Err(self.err_at(tok));
            }
        }
    }

    /// §5.12.3 `SET` items separated by blanks, commas or new lines; at least one.
    fn modify_pat_set(&mut self) -> PResult<ModifySet> {
        let (mut disabled, mut mins, mut comment) = (None, None, None);
        let mut first = true;
        loop {
            self.option_separator(first);
            let Some((tok, opt)) = self.option_name() else {
                if first {
                    return Err(self.err());
                }
                return Ok((disabled, mins, comment));
            };
            first = false;
            let dup = match opt.as_str() {
                "DISABLED" => disabled.replace(self.boolean()?).is_some(),
                "MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT" => {
                    mins.replace(self.integer()?).is_some()
                }
                "COMMENT" => comment.replace(self.string()?).is_some(),
                _ => true,
            };
            if dup {
                return Err(self.err_at(tok));
            }
        }
    }

    fn drop(&mut self) -> PResult<Statement> {
        if self.eat_kw("USER") {
            let if_exists = self.if_exists();
            let name = self.ident()?;
            return Ok(Statement::DropUser { if_exists, name });
        }
        if self.eat_kw("ROLE") {
            let if_exists = self.if_exists();
            let name = self.ident()?;
            return Ok(Statement::DropRole { if_exists, name });
        }
        if self.eat_kw("DATABASE") {
            let if_exists = self.if_exists();
            let name = self.ident()?;
            return Ok(Statement::DropDatabase { if_exists, name });
        }
        if self.eat_kw("SCHEMA") {
            let if_exists = self.if_exists();
            let name = self.schema_name()?;
            return Ok(Statement::DropSchema { if_exists, name });
        }
        if self.eat_kws(&["AUTHENTICATION", "POLICY"]) {
            let if_exists = self.if_exists();
            let name = self.object_name()?;
            return Ok(Statement::DropAuthenticationPolicy { if_exists, name });
        }
        if self.eat_kws(&["NETWORK", "RULE"]) {
            let if_exists = self.if_exists();
            let name = self.object_name()?;
            return Ok(Statement::DropNetworkRule { if_exists, name });
        }
        if self.eat_kws(&["NETWORK", "POLICY"]) {
            let if_exists = self.if_exists();
            let name = self.ident()?;
            return Ok(Statement::DropNetworkPolicy { if_exists, name });
        }
        if self.eat_kw("SECRET") {
            let if_exists = self.if_exists();
            let name = self.object_name()?;
            return Ok(Statement::DropSecret { if_exists, name });
        }
        if self.eat_kws(&["SECURITY", "INTEGRATION"]) || self.eat_kw("INTEGRATION") {
            let if_exists = self.if_exists();
            let name = self.ident()?;
            return Ok(Statement::DropIntegration { if_exists, name });
        }
        if let Some(kind) = self.runtime_kind() {
            let if_exists = self.if_exists();
            let name = self.object_name()?;
            return Ok(Statement::DropObject {
                kind,
                if_exists,
                name,
            });
        }
        Err(self.err())
    }

    fn describe(&mut self) -> PResult<Statement> {
        if self.eat_kw("USER") {
            return Ok(Statement::DescribeUser {
                name: self.ident()?,
            });
        }
        if self.eat_kws(&["AUTHENTICATION", "POLICY"]) {
            return Ok(Statement::DescribeAuthenticationPolicy {
                name: self.object_name()?,
            });
        }
        if self.eat_kw("SECRET") {
            return Ok(Statement::DescribeSecret {
                name: self.object_name()?,
            });
        }
        Err(self.err())
    }

    // ---------------------------------------------------------------- grants

    fn grantee(&mut self) -> PResult<Grantee> {
        if self.eat_kw("ROLE") {
            Ok(Grantee::Role(self.ident()?))
        } else if self.eat_kw("USER") {
            Ok(Grantee::User(self.ident()?))
        } else {
            Err(self.err())
        }
    }

    fn drop_behavior(&mut self) -> Option<DropBehavior> {
        if self.eat_kw("RESTRICT") {
            Some(DropBehavior::Restrict)
        } else if self.eat_kw("CASCADE") {
            Some(DropBehavior::Cascade)
        } else {
            None
        }
    }

    /// `[ROLE] r` after TO/FROM of a privilege grant (privileges go to roles only: `USER u` is
    /// refused at `USER`).
    fn optional_role_keyword_then_ident(&mut self) -> PResult<Ident> {
        if self.is_kw("USER")
            && self
                .peek_at(1)
                .is_some_and(|t| matches!(&t.kind, TokenKind::Word(_) | TokenKind::QuotedIdent(_)))
        {
            return Err(self.err());
        }
        if self.is_kw("ROLE")
            && self.peek_at(1).is_some_and(|t| match &t.kind {
                TokenKind::Word(w) => !is_reserved(w),
                TokenKind::QuotedIdent(_) => true,
                _ => false,
            })
        {
            self.pos += 1;
        }
        self.ident()
    }

    /// An object kind keyword (singular) as used after ON.
    fn object_kind(&mut self) -> Option<ObjectKind> {
        let kind = if self.eat_kw("USER") {
            ObjectKind::User
        } else if self.eat_kw("ROLE") {
            ObjectKind::Role
        } else if self.eat_kw("DATABASE") {
            ObjectKind::Database
        } else if self.eat_kw("SCHEMA") {
            ObjectKind::Schema
        } else if self.eat_kws(&["AUTHENTICATION", "POLICY"]) {
            ObjectKind::AuthenticationPolicy
        } else if self.eat_kws(&["NETWORK", "POLICY"]) {
            ObjectKind::NetworkPolicy
        } else if self.eat_kws(&["NETWORK", "RULE"]) {
            ObjectKind::NetworkRule
        } else if self.eat_kw("SECRET") {
            ObjectKind::Secret
        } else if self.eat_kw("INTEGRATION") || self.eat_kws(&["SECURITY", "INTEGRATION"]) {
            ObjectKind::Integration
        } else if self.eat_kw("WAREHOUSE") {
            ObjectKind::Warehouse
        } else {
            return self.runtime_kind();
        };
        Some(kind)
    }

    /// A plural object kind (`ON ALL <kinds> IN ...`).
    fn object_kind_plural(&mut self) -> Option<ObjectKind> {
        let table: [(&[&str], ObjectKind); 16] = [
            (&["USERS"], ObjectKind::User),
            (&["ROLES"], ObjectKind::Role),
            (&["DATABASES"], ObjectKind::Database),
            (&["SCHEMAS"], ObjectKind::Schema),
            (
                &["AUTHENTICATION", "POLICIES"],
                ObjectKind::AuthenticationPolicy,
            ),
            (&["NETWORK", "POLICIES"], ObjectKind::NetworkPolicy),
            (&["NETWORK", "RULES"], ObjectKind::NetworkRule),
            (&["SECRETS"], ObjectKind::Secret),
            (&["INTEGRATIONS"], ObjectKind::Integration),
            (&["STAGES"], ObjectKind::Stage),
            (&["IMAGE", "REPOSITORIES"], ObjectKind::ImageRepository),
            (&["COMPUTE", "POOLS"], ObjectKind::ComputePool),
            (
                &["EXTERNAL", "ACCESS", "INTEGRATIONS"],
                ObjectKind::ExternalAccessIntegration,
            ),
            (&["SERVICES"], ObjectKind::Service),
            (&["MCP", "SERVERS"], ObjectKind::McpServer),
            (&["WAREHOUSES"], ObjectKind::Warehouse),
        ];
        table
            .iter()
            .find(|(words, _)| self.eat_kws(words))
            .map(|(_, k)| *k)
    }

    /// The name after an object kind: schemas `[db.]s`, everything else `[db.[schema.]]name`.
    fn name_for_kind(&mut self, kind: ObjectKind) -> PResult<ObjectName> {
        match kind {
            ObjectKind::Schema => self.schema_name(),
            ObjectKind::User
            | ObjectKind::Role
            | ObjectKind::Database
            | ObjectKind::NetworkPolicy
            | ObjectKind::Integration
            | ObjectKind::ExternalAccessIntegration
            | ObjectKind::ComputePool
            | ObjectKind::Warehouse
            | ObjectKind::Account => Ok(ObjectName(vec![self.ident()?])),
            _ => self.object_name(),
        }
    }

    fn grant(&mut self) -> PResult<Statement> {
        if self.is_kw("ROLE") {
            self.pos += 1;
            let role = self.ident()?;
            self.expect_kw("TO")?;
            let to = self.grantee()?;
            let with_grant_option = self.eat_kws(&["WITH", "GRANT", "OPTION"]);
            return Ok(Statement::GrantRole {
                role,
                to,
                with_grant_option,
            });
        }
        if self.eat_kws(&["DATABASE", "ROLE"]) {
            let role = self.object_name()?;
            self.expect_kw("TO")?;
            let to = self.grantee()?;
            return Ok(Statement::GrantDatabaseRole { role, to });
        }
        if self.is_kw("OWNERSHIP") && self.is_kw_at(1, "ON") {
            self.pos += 2;
            let on = if self.eat_kw("ALL") {
                let kind = self.object_kind_plural().ok_or_else(|| self.err())?;
                self.expect_kw("IN")?;
                let (in_kind, in_name) = if self.eat_kw("DATABASE") {
                    (ObjectKind::Database, ObjectName(vec![self.ident()?]))
                } else if self.eat_kw("SCHEMA") {
                    (ObjectKind::Schema, self.schema_name()?)
                } else {
                    return Err(self.err());
                };
                OwnershipTarget::All {
                    kind,
                    in_kind,
                    in_name,
                }
            } else {
                let kind = self.object_kind().ok_or_else(|| self.err())?;
                let name = self.name_for_kind(kind)?;
                OwnershipTarget::Object { kind, name }
            };
            self.expect_kws(&["TO", "ROLE"])?;
            let to_role = self.ident()?;
            let current_grants = if self.eat_kws(&["REVOKE", "CURRENT", "GRANTS"]) {
                Some(CurrentGrants::Revoke)
            } else if self.eat_kws(&["COPY", "CURRENT", "GRANTS"]) {
                Some(CurrentGrants::Copy)
            } else {
                None
            };
            return Ok(Statement::GrantOwnership {
                on,
                to_role,
                current_grants,
            });
        }
        let privileges = self.privileges()?;
        let on = self.grant_target()?;
        self.expect_kw("TO")?;
        let to_role = self.optional_role_keyword_then_ident()?;
        let with_grant_option = self.eat_kws(&["WITH", "GRANT", "OPTION"]);
        Ok(Statement::GrantPrivileges {
            privileges,
            on,
            to_role,
            with_grant_option,
        })
    }

    fn revoke(&mut self) -> PResult<Statement> {
        let grant_option_for = self.eat_kws(&["GRANT", "OPTION", "FOR"]);
        if self.eat_kw("ROLE") {
            let role = self.ident()?;
            self.expect_kw("FROM")?;
            let from = self.grantee()?;
            let behavior = self.drop_behavior();
            return Ok(Statement::RevokeRole {
                grant_option_for,
                role,
                from,
                behavior,
            });
        }
        if !grant_option_for && self.eat_kws(&["DATABASE", "ROLE"]) {
            let role = self.object_name()?;
            self.expect_kw("FROM")?;
            let from = self.grantee()?;
            return Ok(Statement::RevokeDatabaseRole { role, from });
        }
        let privileges = self.privileges()?;
        let on = self.grant_target()?;
        self.expect_kw("FROM")?;
        let from_role = self.optional_role_keyword_then_ident()?;
        let behavior = self.drop_behavior();
        Ok(Statement::RevokePrivileges {
            grant_option_for,
            privileges,
            on,
            from_role,
            behavior,
        })
    }

    /// `ALL [PRIVILEGES]` or words up to `ON`, split on commas (§5.7).
    fn privileges(&mut self) -> PResult<Privileges> {
        if self.is_kw("ALL") && (self.is_kw_at(1, "ON") || self.is_kw_at(1, "PRIVILEGES")) {
            self.pos += 1;
            self.eat_kw("PRIVILEGES");
            return Ok(Privileges::All);
        }
        let mut list = Vec::new();
        let mut words: Vec<String> = Vec::new();
        loop {
            let Some(tok) = self.peek() else {
                return Err(self.err());
            };
            match &tok.kind {
                TokenKind::Word(w) if w.eq_ignore_ascii_case("ON") => {
                    if words.is_empty() {
                        return Err(self.err());
                    }
                    list.push(words.join(" "));
                    return Ok(Privileges::List(list));
                }
                TokenKind::Word(w) => {
                    words.push(w.to_ascii_uppercase());
                    self.pos += 1;
                }
                TokenKind::Symbol(',') if !words.is_empty() => {
                    list.push(std::mem::take(&mut words).join(" "));
                    self.pos += 1;
                }
                _ => return Err(self.err()),
            }
        }
    }

    fn grant_target(&mut self) -> PResult<GrantTarget> {
        self.expect_kw("ON")?;
        if self.eat_kw("ACCOUNT") {
            return Ok(GrantTarget::Account);
        }
        let kind = self.object_kind().ok_or_else(|| self.err())?;
        let name = self.name_for_kind(kind)?;
        Ok(GrantTarget::Object { kind, name })
    }

    // ---------------------------------------------------------------- SHOW, USE, SELECT

    fn show_filter(&mut self, filter: &mut ShowFilter) -> PResult<()> {
        if self.eat_kw("LIKE") {
            filter.like = Some(self.string()?);
        }
        Ok(())
    }

    fn show_tail(&mut self, filter: &mut ShowFilter) -> PResult<()> {
        if self.eat_kws(&["STARTS", "WITH"]) {
            filter.starts_with = Some(self.string()?);
        }
        if self.eat_kw("LIMIT") {
            filter.limit = Some(self.u64()?);
            if self.eat_kw("FROM") {
                filter.from = Some(self.string()?);
            }
        }
        Ok(())
    }

    fn show_scope(&mut self) -> PResult<Option<ShowScope>> {
        if !self.eat_kw("IN") {
            return Ok(None);
        }
        if self.eat_kw("ACCOUNT") {
            Ok(Some(ShowScope::Account))
        } else if self.eat_kw("DATABASE") {
            Ok(Some(ShowScope::Database(self.ident()?)))
        } else if self.eat_kw("SCHEMA") {
            Ok(Some(ShowScope::Schema(self.schema_name()?)))
        } else {
            Err(self.err())
        }
    }

    fn show(&mut self) -> PResult<Statement> {
        let terse = self.eat_kw("TERSE");
        let users_or_roles = if self.eat_kw("USERS") {
            Some(false)
        } else if self.eat_kw("ROLES") {
            Some(true)
        } else {
            None
        };
        if let Some(roles) = users_or_roles {
            let mut filter = ShowFilter::default();
            self.show_filter(&mut filter)?;
            self.show_tail(&mut filter)?;
            return Ok(if roles {
                Statement::ShowRoles { terse, filter }
            } else {
                Statement::ShowUsers { terse, filter }
            });
        }
        if terse {
            return Err(self.err());
        }
        if self.eat_kw("GRANTS") {
            return self.show_grants().map(Statement::ShowGrants);
        }
        if self.is_kw("USER") {
            self.pos += 1;
            if !(self.eat_kw("PATS") || self.eat_kws(&["PROGRAMMATIC", "ACCESS", "TOKENS"])) {
                return Err(self.err());
            }
            let for_user = if self.eat_kws(&["FOR", "USER"]) {
                Some(self.ident()?)
            } else {
                None
            };
            return Ok(Statement::ShowUserPats { for_user });
        }
        if self.eat_kws(&["AUTHENTICATION", "POLICIES"]) {
            let mut filter = ShowFilter::default();
            self.show_filter(&mut filter)?;
            let scope = self.show_scope()?;
            let on = if self.eat_kw("ON") {
                if self.eat_kw("ACCOUNT") {
                    Some(PolicyOn::Account)
                } else if self.eat_kw("USER") {
                    Some(PolicyOn::User(self.ident()?))
                } else {
                    return Err(self.err());
                }
            } else {
                None
            };
            self.show_tail(&mut filter)?;
            return Ok(Statement::ShowAuthenticationPolicies { filter, scope, on });
        }
        let kinds: [(&[&str], ShowKind); 14] = [
            (&["DATABASES"], ShowKind::Databases),
            (&["SCHEMAS"], ShowKind::Schemas),
            (&["NETWORK", "POLICIES"], ShowKind::NetworkPolicies),
            (&["NETWORK", "RULES"], ShowKind::NetworkRules),
            (&["SECRETS"], ShowKind::Secrets),
            (&["INTEGRATIONS"], ShowKind::Integrations),
            (
                &["SECURITY", "INTEGRATIONS"],
                ShowKind::SecurityIntegrations,
            ),
            (&["DATABASE", "ROLES"], ShowKind::DatabaseRoles),
            (&["PARAMETERS"], ShowKind::Parameters),
            (&["MCP", "SERVERS"], ShowKind::McpServers),
            (&["SERVICES"], ShowKind::Services),
            (&["COMPUTE", "POOLS"], ShowKind::ComputePools),
            (&["STAGES"], ShowKind::Stages),
            (&["IMAGE", "REPOSITORIES"], ShowKind::ImageRepositories),
        ];
        let Some(kind) = kinds
            .iter()
            .find(|(words, _)| self.eat_kws(words))
            .map(|(_, k)| *k)
        else {
            return Err(self.err());
        };
        let mut filter = ShowFilter::default();
        self.show_filter(&mut filter)?;
        let scope = self.show_scope()?;
        self.show_tail(&mut filter)?;
        Ok(Statement::ShowObjects {
            kind,
            filter,
            scope,
        })
    }

    fn show_grants(&mut self) -> PResult<ShowGrantsTarget> {
        if self.eat_kw("ON") {
            if self.eat_kw("ACCOUNT") {
                return Ok(ShowGrantsTarget::OnAccount);
            }
            let kind = self.object_kind().ok_or_else(|| self.err())?;
            let name = self.name_for_kind(kind)?;
            return Ok(ShowGrantsTarget::On { kind, name });
        }
        if self.eat_kw("TO") {
            if self.eat_kws(&["DATABASE", "ROLE"]) {
                return Ok(ShowGrantsTarget::ToDatabaseRole(self.object_name()?));
            }
            if self.eat_kw("ROLE") {
                return Ok(ShowGrantsTarget::ToRole(self.ident()?));
            }
            self.expect_kw("USER")?;
            return Ok(ShowGrantsTarget::ToUser(self.ident()?));
        }
        if self.eat_kw("OF") {
            if self.eat_kws(&["DATABASE", "ROLE"]) {
                return Ok(ShowGrantsTarget::ToDatabaseRole(self.object_name()?));
            }
            self.expect_kw("ROLE")?;
            return Ok(ShowGrantsTarget::OfRole(self.ident()?));
        }
        Ok(ShowGrantsTarget::CurrentUser)
    }

    fn use_(&mut self) -> PResult<Statement> {
        if self.eat_kws(&["SECONDARY", "ROLES"]) {
            let which = if self.eat_kw("ALL") {
                SecondaryRoles::All
            } else if self.eat_kw("NONE") {
                SecondaryRoles::None
            } else {
                return Err(self.err());
            };
            return Ok(Statement::Use(UseTarget::SecondaryRoles(which)));
        }
        if self.eat_kw("ROLE") {
            return Ok(Statement::Use(UseTarget::Role(self.ident()?)));
        }
        if self.eat_kw("WAREHOUSE") {
            return Ok(Statement::Use(UseTarget::Warehouse(self.ident()?)));
        }
        if self.eat_kw("DATABASE") {
            return Ok(Statement::Use(UseTarget::Database(self.ident()?)));
        }
        if self.eat_kw("SCHEMA") {
            return Ok(Statement::Use(UseTarget::Schema(self.schema_name()?)));
        }
        let name = self.schema_name()?;
        let mut parts = name.0;
        if parts.len() == 1 {
            if let Some(db) = parts.pop() {
                return Ok(Statement::Use(UseTarget::Database(db)));
            }
        }
        Ok(Statement::Use(UseTarget::Schema(ObjectName(parts))))
    }

    fn select(&mut self) -> PResult<Select> {
        let mut items = vec![self.select_item()?];
        while self.eat_sym(',') {
            items.push(self.select_item()?);
        }
        let from = if self.eat_kw("FROM") {
            Some(self.object_name()?)
        } else {
            None
        };
        let mut filter = Vec::new();
        if self.eat_kw("WHERE") {
            loop {
                let column = self.ident()?;
                self.expect_sym('=')?;
                let value = self.expr()?;
                filter.push((column, value));
                if !self.eat_kw("AND") {
                    break;
                }
            }
        }
        Ok(Select {
            items,
            from,
            filter,
        })
    }

    fn select_item(&mut self) -> PResult<SelectItem> {
        let expr = self.expr()?;
        let alias = if self.eat_kw("AS") || self.at_ident() {
            Some(self.ident()?)
        } else {
            None
        };
        Ok(SelectItem { expr, alias })
    }

    /// Functions without parentheses that SELECT accepts as such (`SELECT CURRENT_USER`).
    const NILADIC: &'static [&'static str] = &[
        "CURRENT_USER",
        "CURRENT_ROLE",
        "CURRENT_DATE",
        "CURRENT_TIME",
        "CURRENT_TIMESTAMP",
        "LOCALTIME",
        "LOCALTIMESTAMP",
    ];

    fn expr(&mut self) -> PResult<Expr> {
        if self.depth >= MAX_NESTING {
            return Err(self.err());
        }
        self.depth += 1;
        let expr = self.expr_inner();
        self.depth -= 1;
        expr
    }

    fn expr_inner(&mut self) -> PResult<Expr> {
        let Some(tok) = self.peek() else {
            return Err(self.err());
        };
        match &tok.kind {
            TokenKind::Symbol('*') => {
                self.pos += 1;
                Ok(Expr::Wildcard)
            }
            TokenKind::Number(n) => {
                self.pos += 1;
                Ok(Expr::Number(n.clone()))
            }
            TokenKind::Symbol('-') => match self.peek_at(1).map(|t| &t.kind) {
                Some(TokenKind::Number(n)) => {
                    self.pos += 2;
                    Ok(Expr::Number(format!("-{n}")))
                }
                _ => {
                    self.pos += 1;
                    Err(self.err())
                }
            },
            TokenKind::String(s) => {
                self.pos += 1;
                Ok(Expr::String(s.clone()))
            }
            TokenKind::Word(w) | TokenKind::QuotedIdent(w) if self.next_is_paren() => {
                let name = match &tok.kind {
                    TokenKind::Word(_) => w.to_ascii_uppercase(),
                    _ => w.clone(),
                };
                if name.is_empty() {
                    return Err(self.err());
                }
                self.pos += 2;
                let mut args = Vec::new();
                if !self.eat_sym(')') {
                    args.push(self.expr()?);
                    while self.eat_sym(',') {
                        args.push(self.expr()?);
                    }
                    self.expect_sym(')')?;
                }
                Ok(Expr::Function { name, args })
            }
            TokenKind::Word(w) if w.eq_ignore_ascii_case("TRUE") => {
                self.pos += 1;
                Ok(Expr::Bool(true))
            }
            TokenKind::Word(w) if w.eq_ignore_ascii_case("FALSE") => {
                self.pos += 1;
                Ok(Expr::Bool(false))
            }
            TokenKind::Word(w) if w.eq_ignore_ascii_case("NULL") => {
                self.pos += 1;
                Ok(Expr::Null)
            }
            TokenKind::Word(w) if Self::NILADIC.iter().any(|f| f.eq_ignore_ascii_case(w)) => {
                self.pos += 1;
                Ok(Expr::Function {
                    name: w.to_ascii_uppercase(),
                    args: Vec::new(),
                })
            }
            _ => Ok(Expr::Column(self.ident()?)),
        }
    }
}

/// An identifier within Snowflake's limits (non-empty, at most 255 characters).
fn checked_ident(name: String) -> Option<Ident> {
    let n = name.chars().count();
    (n > 0 && n <= MAX_IDENT_CHARS).then(|| Ident::new(name))
}

/// The content of `IDENTIFIER('...')`: a possibly qualified name under the rules of §1.1.
fn parse_identifier_literal(content: &str) -> Option<Vec<Ident>> {
    let tokens = tokenize(content).ok()?;
    let mut p = Parser {
        src: content,
        toks: &tokens,
        pos: 0,
        eof: eof_error(content, &tokens, tokens.len()),
        depth: 0,
    };
    // No nested IDENTIFIER(...) inside the literal.
    if tokens.iter().any(|t| t.is_word("IDENTIFIER")) && tokens.len() > 1 {
        return None;
    }
    let name = p.object_name().ok()?;
    p.expect_end().ok()?;
    Some(name.0)
}

/// A name given as a string literal (§1.2): upper-cased like an unquoted identifier unless the
/// content is itself double-quoted (`'"Mixed"'` → `Mixed`).
pub fn resolve_string_name(content: &str) -> Option<Ident> {
    let name = match content
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        Some(inner) => inner.replace("\"\"", "\""),
        None => content.to_uppercase(),
    };
    checked_ident(name)
}
