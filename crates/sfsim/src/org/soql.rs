//! The SOQL subset the simulator understands: a lexer and a recursive-descent parser into a
//! small syntax tree, with Salesforce's error codes and message layout
//! (`\n<query line>\n<caret>\nERROR at Row:R:Column:C\n<text>`).
//!
//! Grammar: `SELECT item {, item} FROM object [WHERE cond] [GROUP BY path {, path}]
//! [ORDER BY path [ASC|DESC] [NULLS FIRST|LAST] {, ...}] [LIMIT n] [OFFSET n]`, where an item
//! is a field path (`Name`, `Account.Name`, `Owner.Name`), `COUNT()`, an aggregate call, a
//! parent-to-child subquery or a `TYPEOF ... END` block (the last three are parsed so that the
//! Bulk API can refuse them by name), and a condition combines `=`, `!=`, `<>`, `<`, `<=`, `>`,
//! `>=`, `[NOT] IN (...)` and `LIKE` with `AND`, `OR`, `NOT` and parentheses. Literals are
//! quoted strings, numbers, `true`, `false`, `null`, dates (`2024-01-01`) and datetimes
//! (`2024-01-01T00:00:00Z`, `2024-01-01T00:00:00.000+0000`).

use std::fmt;

use super::ApiError;
use crate::time;

/// A parsed SOQL statement. Its `Display` prints a canonical form that parses back to the same
/// statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub(crate) items: Vec<Item>,
    pub(crate) from: Path,
    pub(crate) filter: Option<Expr>,
    pub(crate) group_by: Vec<Path>,
    pub(crate) order_by: Vec<OrderKey>,
    pub(crate) limit: Option<u64>,
    pub(crate) offset: Option<u64>,
}

/// A dotted name with the byte offset where it starts (for error carets).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    pub(crate) parts: Vec<String>,
    pub(crate) pos: usize,
}

impl Path {
    pub(crate) fn dotted(&self) -> String {
        self.parts.join(".")
    }
}

/// One SELECT item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    Field(Path),
    /// `COUNT()`.
    CountAll(usize),
    /// `COUNT(x)`, `SUM(x)`, ...: name, argument.
    Aggregate(String, Path),
    /// `( SELECT ... )`: its position.
    Subquery(usize),
    /// `TYPEOF ... END`: its position.
    TypeOf(usize),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn text(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    /// Days since 1970-01-01.
    Date(i64),
    /// Epoch milliseconds.
    DateTime(i64),
}

/// A WHERE condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Cmp(Path, CmpOp, Literal),
    In(Path, bool, Vec<Literal>),
    Like(Path, String),
}

/// One ORDER BY key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrderKey {
    pub(crate) path: Path,
    pub(crate) desc: bool,
    pub(crate) nulls_last: bool,
}

/// Parses `soql`.
///
/// # Errors
/// 400 `MALFORMED_QUERY` with Salesforce's message layout for anything outside the subset.
pub fn parse(soql: &str) -> Result<Query, ApiError> {
    let tokens = lex(soql)?;
    let mut parser = Parser {
        soql,
        tokens,
        at: 0,
    };
    let query = parser.query()?;
    match parser.peek() {
        Tok::End => Ok(query),
        _ => Err(parser.unexpected()),
    }
}

/// `s` as a SOQL string literal (quotes and backslashes escaped).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '"' => out.push_str("\\\""),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A LIKE pattern (its `\\` escapes kept) as a SOQL string literal.
fn quote_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 2);
    out.push('\'');
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push('\\');
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The Salesforce error text layout: the query line, a caret under `pos`, its row and column.
pub(crate) fn decorate(soql: &str, pos: usize, text: &str) -> String {
    let pos = pos.min(soql.len());
    let before = soql.get(..pos).unwrap_or(soql);
    let row = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = soql[line_start..]
        .find('\n')
        .map_or(soql.len(), |i| line_start + i);
    let column = soql[line_start..pos].chars().count() + 1;
    format!(
        "\n{}\n{}^\nERROR at Row:{row}:Column:{column}\n{text}",
        &soql[line_start..line_end],
        " ".repeat(column - 1)
    )
}

/// A MALFORMED_QUERY error at `pos`.
pub(crate) fn malformed(soql: &str, pos: usize, text: &str) -> ApiError {
    ApiError::new(400, "MALFORMED_QUERY", decorate(soql, pos, text))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// Value, and the value as a LIKE pattern.
    Str(String, String),
    Num(f64),
    Date(i64),
    DateTime(i64),
    LParen,
    RParen,
    Comma,
    Op(CmpOp),
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
    text_len: usize,
}

fn lex(soql: &str) -> Result<Vec<Token>, ApiError> {
    let bytes = soql.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let tok = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b'=' => {
                i += 1;
                Tok::Op(CmpOp::Eq)
            }
            b'!' if bytes.get(i + 1) == Some(&b'=') => {
                i += 2;
                Tok::Op(CmpOp::Ne)
            }
            b'<' => match bytes.get(i + 1) {
                Some(b'=') => {
                    i += 2;
                    Tok::Op(CmpOp::Le)
                }
                Some(b'>') => {
                    i += 2;
                    Tok::Op(CmpOp::Ne)
                }
                _ => {
                    i += 1;
                    Tok::Op(CmpOp::Lt)
                }
            },
            b'>' => {
                if bytes.get(i + 1) == Some(&b'=') {
                    i += 2;
                    Tok::Op(CmpOp::Ge)
                } else {
                    i += 1;
                    Tok::Op(CmpOp::Gt)
                }
            }
            b'\'' => {
                let (value, pattern, end) = lex_string(soql, i)?;
                i = end;
                Tok::Str(value, pattern)
            }
            b'0'..=b'9' | b'-' | b'+' | b'.' => {
                let end = bytes[i + 1..]
                    .iter()
                    .position(|b| !(b.is_ascii_alphanumeric() || b"-+:.".contains(b)))
                    .map_or(bytes.len(), |n| i + 1 + n);
                let text = &soql[i..end];
                i = end;
                lex_number_or_date(soql, start, text)?
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = bytes[i..]
                    .iter()
                    .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.'))
                    .map_or(bytes.len(), |n| i + n);
                let text = &soql[i..end];
                i = end;
                Tok::Ident(text.to_owned())
            }
            _ => {
                let ch = soql[i..].chars().next().unwrap_or('?');
                return Err(malformed(soql, i, &format!("unexpected token: '{ch}'")));
            }
        };
        tokens.push(Token {
            tok,
            pos: start,
            text_len: i - start,
        });
    }
    tokens.push(Token {
        tok: Tok::End,
        pos: soql.len(),
        text_len: 0,
    });
    Ok(tokens)
}

/// A quoted string starting at `start`: its value, its value as a LIKE pattern (where `\\`,
/// `\%` and `\_` stay escaped), and the offset after it.
fn lex_string(soql: &str, start: usize) -> Result<(String, String, usize), ApiError> {
    let mut value = String::new();
    let mut pattern = String::new();
    let mut chars = soql[start + 1..].char_indices();
    while let Some((offset, c)) = chars.next() {
        match c {
            '\'' => return Ok((value, pattern, start + 1 + offset + 1)),
            '\\' => {
                let escaped = match chars.next() {
                    Some((_, 'n')) => '\n',
                    Some((_, 'r')) => '\r',
                    Some((_, 't')) => '\t',
                    Some((_, 'b')) => '\u{8}',
                    Some((_, 'f')) => '\u{c}',
                    Some((_, e @ ('\'' | '"' | '\\' | '%' | '_'))) => e,
                    _ => {
                        return Err(malformed(
                            soql,
                            start + 1 + offset,
                            "Invalid string literal: illegal escape sequence",
                        ));
                    }
                };
                value.push(escaped);
                if matches!(escaped, '\\' | '%' | '_') {
                    pattern.push('\\');
                }
                pattern.push(escaped);
            }
            _ => {
                value.push(c);
                pattern.push(c);
            }
        }
    }
    Err(malformed(soql, start, "unterminated string literal"))
}

fn lex_number_or_date(soql: &str, pos: usize, text: &str) -> Result<Tok, ApiError> {
    let b = text.as_bytes();
    if b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' {
        if b.len() == 10 {
            if let Some(days) = time::parse_date(text) {
                return Ok(Tok::Date(days));
            }
        } else if let Some(ms) = time::parse_datetime(text) {
            return Ok(Tok::DateTime(ms));
        }
        return Err(malformed(
            soql,
            pos,
            &format!("line 1:{pos} no viable alternative at character '{text}'"),
        ));
    }
    let numeric = text.trim_start_matches(['-', '+']);
    if !numeric.is_empty()
        && numeric.bytes().all(|c| c.is_ascii_digit() || c == b'.')
        && numeric.bytes().filter(|&c| c == b'.').count() <= 1
        && numeric != "."
        && let Ok(value) = text.parse::<f64>()
        && value.is_finite()
    {
        return Ok(Tok::Num(value));
    }
    Err(malformed(soql, pos, &format!("unexpected token: '{text}'")))
}

struct Parser<'a> {
    soql: &'a str,
    tokens: Vec<Token>,
    at: usize,
}

const AGGREGATES: &[&str] = &["COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX"];

/// Words that end a field list or a condition (cannot be field names here).
const RESERVED: &[&str] = &[
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "GROUP", "LIMIT",
    "OFFSET", "ASC", "DESC", "NULLS", "FIRST", "LAST", "NULL", "TRUE", "FALSE", "TYPEOF", "END",
    "HAVING", "WITH", "FOR", "INCLUDES", "EXCLUDES",
];

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.at.min(self.tokens.len() - 1)].tok
    }

    fn pos(&self) -> usize {
        self.tokens[self.at.min(self.tokens.len() - 1)].pos
    }

    fn bump(&mut self) -> Token {
        let token = self.tokens[self.at.min(self.tokens.len() - 1)].clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        token
    }

    fn unexpected(&self) -> ApiError {
        let token = &self.tokens[self.at.min(self.tokens.len() - 1)];
        let text = match &token.tok {
            Tok::End => "<EOF>".to_owned(),
            _ => self.soql[token.pos..token.pos + token.text_len].to_owned(),
        };
        let quoted = if token.tok == Tok::End {
            text
        } else {
            format!("'{text}'")
        };
        malformed(self.soql, token.pos, &format!("unexpected token: {quoted}"))
    }

    fn is_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w.eq_ignore_ascii_case(word))
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        let found = self.is_keyword(word);
        if found {
            self.bump();
        }
        found
    }

    fn expect_keyword(&mut self, word: &str) -> Result<(), ApiError> {
        if self.eat_keyword(word) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect(&mut self, tok: &Tok) -> Result<(), ApiError> {
        if self.peek() == tok {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn path(&mut self) -> Result<Path, ApiError> {
        match self.peek().clone() {
            Tok::Ident(word)
                if !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(&word))
                    && !word.starts_with('.')
                    && !word.ends_with('.')
                    && !word.contains("..") =>
            {
                let pos = self.pos();
                self.bump();
                Ok(Path {
                    parts: word.split('.').map(str::to_owned).collect(),
                    pos,
                })
            }
            _ => Err(self.unexpected()),
        }
    }

    fn query(&mut self) -> Result<Query, ApiError> {
        self.expect_keyword("SELECT")?;
        let mut items = vec![self.item()?];
        while *self.peek() == Tok::Comma {
            self.bump();
            items.push(self.item()?);
        }
        self.expect_keyword("FROM")?;
        let from = self.path()?;
        if from.parts.len() != 1 {
            return Err(malformed(
                self.soql,
                from.pos,
                &format!("unexpected token: '{}'", from.dotted()),
            ));
        }
        let filter = if self.eat_keyword("WHERE") {
            Some(self.or_expr()?)
        } else {
            None
        };
        let mut group_by = Vec::new();
        if self.eat_keyword("GROUP") {
            self.expect_keyword("BY")?;
            group_by.push(self.path()?);
            while *self.peek() == Tok::Comma {
                self.bump();
                group_by.push(self.path()?);
            }
        }
        let mut order_by = Vec::new();
        if self.eat_keyword("ORDER") {
            self.expect_keyword("BY")?;
            loop {
                let path = self.path()?;
                let desc = if self.eat_keyword("DESC") {
                    true
                } else {
                    self.eat_keyword("ASC");
                    false
                };
                let nulls_last = if self.eat_keyword("NULLS") {
                    if self.eat_keyword("LAST") {
                        true
                    } else {
                        self.expect_keyword("FIRST")?;
                        false
                    }
                } else {
                    // Salesforce: nulls first ascending, last descending.
                    desc
                };
                order_by.push(OrderKey {
                    path,
                    desc,
                    nulls_last,
                });
                if *self.peek() != Tok::Comma {
                    break;
                }
                self.bump();
            }
        }
        let limit = if self.eat_keyword("LIMIT") {
            Some(self.count()?)
        } else {
            None
        };
        let offset = if self.eat_keyword("OFFSET") {
            Some(self.count()?)
        } else {
            None
        };
        Ok(Query {
            items,
            from,
            filter,
            group_by,
            order_by,
            limit,
            offset,
        })
    }

    fn count(&mut self) -> Result<u64, ApiError> {
        match self.peek().clone() {
            Tok::Num(n) if n >= 0.0 && n.fract() == 0.0 && n <= 2_147_483_647.0 => {
                self.bump();
                // Checked above: a non-negative whole number within i32 range.
                Ok(n as u64)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn item(&mut self) -> Result<Item, ApiError> {
        let pos = self.pos();
        if *self.peek() == Tok::LParen {
            // A parent-to-child subquery: skip to the balancing parenthesis.
            let mut depth = 0usize;
            loop {
                match self.bump().tok {
                    Tok::LParen => depth += 1,
                    Tok::RParen => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(Item::Subquery(pos));
                        }
                    }
                    Tok::End => return Err(self.unexpected()),
                    _ => {}
                }
            }
        }
        if self.is_keyword("TYPEOF") {
            self.bump();
            loop {
                match self.peek() {
                    Tok::End => return Err(self.unexpected()),
                    Tok::Ident(w) if w.eq_ignore_ascii_case("END") => {
                        self.bump();
                        return Ok(Item::TypeOf(pos));
                    }
                    _ => {
                        self.bump();
                    }
                }
            }
        }
        if let Tok::Ident(word) = self.peek().clone()
            && AGGREGATES.iter().any(|a| a.eq_ignore_ascii_case(&word))
            && self.tokens.get(self.at + 1).map(|t| &t.tok) == Some(&Tok::LParen)
        {
            self.bump();
            self.bump();
            if *self.peek() == Tok::RParen && word.eq_ignore_ascii_case("COUNT") {
                self.bump();
                return Ok(Item::CountAll(pos));
            }
            let arg = self.path()?;
            self.expect(&Tok::RParen)?;
            // An optional alias.
            if let Tok::Ident(alias) = self.peek()
                && !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(alias))
            {
                self.bump();
            }
            return Ok(Item::Aggregate(word.to_ascii_uppercase(), arg));
        }
        Ok(Item::Field(self.path()?))
    }

    fn or_expr(&mut self) -> Result<Expr, ApiError> {
        let mut parts = vec![self.and_expr()?];
        while self.eat_keyword("OR") {
            parts.push(self.and_expr()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and_expr(&mut self) -> Result<Expr, ApiError> {
        let mut parts = vec![self.not_expr()?];
        while self.eat_keyword("AND") {
            parts.push(self.not_expr()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn not_expr(&mut self) -> Result<Expr, ApiError> {
        if self.eat_keyword("NOT") {
            return Ok(Expr::Not(Box::new(self.not_expr()?)));
        }
        if *self.peek() == Tok::LParen {
            self.bump();
            let inner = self.or_expr()?;
            self.expect(&Tok::RParen)?;
            return Ok(inner);
        }
        let path = self.path()?;
        if self.eat_keyword("LIKE") {
            return match self.bump().tok {
                Tok::Str(_, pattern) => Ok(Expr::Like(path, pattern)),
                _ => {
                    self.at -= 1;
                    Err(self.unexpected())
                }
            };
        }
        let negated = if self.is_keyword("NOT")
            && matches!(self.tokens.get(self.at + 1).map(|t| &t.tok), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("IN"))
        {
            self.bump();
            true
        } else {
            false
        };
        if self.eat_keyword("IN") {
            self.expect(&Tok::LParen)?;
            let mut values = vec![self.literal()?];
            while *self.peek() == Tok::Comma {
                self.bump();
                values.push(self.literal()?);
            }
            self.expect(&Tok::RParen)?;
            return Ok(Expr::In(path, negated, values));
        }
        if negated {
            return Err(self.unexpected());
        }
        match self.peek().clone() {
            Tok::Op(op) => {
                self.bump();
                let value = self.literal()?;
                Ok(Expr::Cmp(path, op, value))
            }
            _ => Err(self.unexpected()),
        }
    }

    fn literal(&mut self) -> Result<Literal, ApiError> {
        let literal = match self.peek().clone() {
            Tok::Str(s, _) => Literal::Str(s),
            Tok::Num(n) => Literal::Num(n),
            Tok::Date(d) => Literal::Date(d),
            Tok::DateTime(ms) => Literal::DateTime(ms),
            Tok::Ident(w) if w.eq_ignore_ascii_case("null") => Literal::Null,
            Tok::Ident(w) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Tok::Ident(w) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            _ => return Err(self.unexpected()),
        };
        self.bump();
        Ok(literal)
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Num(n) => write!(f, "{n}"),
            Literal::Str(s) => f.write_str(&quote(s)),
            Literal::Date(d) => f.write_str(&time::date_days(*d)),
            Literal::DateTime(ms) => {
                let mut out = String::new();
                time::write_datetime_millis(&mut out, *ms, "Z");
                f.write_str(&out)
            }
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, parts: &[Expr], word: &str| {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    write!(f, " {word} ")?;
                }
                write!(f, "({part})")?;
            }
            Ok(())
        };
        match self {
            Expr::And(parts) => join(f, parts, "AND"),
            Expr::Or(parts) => join(f, parts, "OR"),
            Expr::Not(inner) => write!(f, "NOT ({inner})"),
            Expr::Cmp(path, op, value) => write!(f, "{} {} {value}", path.dotted(), op.text()),
            Expr::In(path, negated, values) => {
                write!(
                    f,
                    "{} {}IN (",
                    path.dotted(),
                    if *negated { "NOT " } else { "" }
                )?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
            Expr::Like(path, pattern) => {
                write!(f, "{} LIKE {}", path.dotted(), quote_pattern(pattern))
            }
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match item {
                Item::Field(p) => f.write_str(&p.dotted())?,
                Item::CountAll(_) => f.write_str("COUNT()")?,
                Item::Aggregate(name, p) => write!(f, "{name}({})", p.dotted())?,
                Item::Subquery(_) => f.write_str("(SELECT Id FROM Subquery)")?,
                Item::TypeOf(_) => f.write_str("TYPEOF What WHEN Account THEN Name END")?,
            }
        }
        write!(f, " FROM {}", self.from.dotted())?;
        if let Some(filter) = &self.filter {
            write!(f, " WHERE {filter}")?;
        }
        if !self.group_by.is_empty() {
            let keys: Vec<String> = self.group_by.iter().map(Path::dotted).collect();
            write!(f, " GROUP BY {}", keys.join(", "))?;
        }
        if !self.order_by.is_empty() {
            f.write_str(" ORDER BY ")?;
            for (i, key) in self.order_by.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(
                    f,
                    "{} {} NULLS {}",
                    key.path.dotted(),
                    if key.desc { "DESC" } else { "ASC" },
                    if key.nulls_last { "LAST" } else { "FIRST" }
                )?;
            }
        }
        if let Some(limit) = self.limit {
            write!(f, " LIMIT {limit}")?;
        }
        if let Some(offset) = self.offset {
            write!(f, " OFFSET {offset}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(q: &Query) -> Vec<String> {
        q.items
            .iter()
            .filter_map(|i| match i {
                Item::Field(p) => Some(p.dotted()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn parses_the_incremental_cursor_query() {
        let q = parse(
            "SELECT Id, Name, Account.Name FROM Contact WHERE (SystemModstamp = 2024-01-01T00:00:00.000+0000 AND Id > '003RO0000035WQgYAM') OR SystemModstamp > 2024-01-01T00:00:00Z ORDER BY SystemModstamp, Id LIMIT 2000",
        )
        .unwrap();
        assert_eq!(parts(&q), ["Id", "Name", "Account.Name"]);
        assert_eq!(q.from.dotted(), "Contact");
        assert_eq!(q.limit, Some(2000));
        assert_eq!(q.order_by.len(), 2);
        let Some(Expr::Or(arms)) = &q.filter else {
            panic!("not an OR: {:?}", q.filter)
        };
        assert_eq!(
            arms[1],
            Expr::Cmp(
                Path {
                    parts: vec!["SystemModstamp".into()],
                    pos: 130
                },
                CmpOp::Gt,
                Literal::DateTime(1_704_067_200_000)
            )
        );
        // Canonical text parses back to the same tree (positions aside).
        let again = parse(&q.to_string()).unwrap();
        assert_eq!(again.to_string(), q.to_string());
    }

    #[test]
    fn literals_and_operators() {
        let q = parse("select id from account where not (name like 'Ac%' or x__c in (1, -2.5, null)) and b = true and d <> 2024-02-29 and s != 'it\\'s'").unwrap();
        let text = q.to_string();
        assert!(
            text.contains("NOT ((name LIKE 'Ac%') OR (x__c IN (1, -2.5, null)))"),
            "{text}"
        );
        assert!(text.contains("s != 'it\\'s'"), "{text}");
        assert_eq!(parse(&text).unwrap().to_string(), text);
    }

    #[test]
    fn errors_are_malformed_query_with_caret() {
        let err = parse("SELECT Id FORM Account").unwrap_err();
        assert_eq!(err.error_code, "MALFORMED_QUERY");
        assert_eq!(
            err.message,
            "\nSELECT Id FORM Account\n          ^\nERROR at Row:1:Column:11\nunexpected token: 'FORM'"
        );
        let err = parse("SELECT Id FROM").unwrap_err();
        assert!(
            err.message.ends_with("unexpected token: <EOF>"),
            "{}",
            err.message
        );
        for bad in [
            "",
            "SELECT",
            "SELECT Id FROM Account WHERE",
            "SELECT Id FROM Account WHERE Name = 'x",
            "SELECT Id FROM Account LIMIT -1",
            "SELECT Id FROM Account WHERE d > 2024-13-01",
            "SELECT Id FROM Account WHERE a = b",
            "SELECT a..b FROM Account",
            "SELECT Id FROM Account extra",
        ] {
            assert_eq!(
                parse(bad).unwrap_err().error_code,
                "MALFORMED_QUERY",
                "{bad}"
            );
        }
    }

    #[test]
    fn bulk_refusals_are_parsed() {
        let q = parse("SELECT COUNT(), MAX(Amount) m, (SELECT Id FROM Contacts), TYPEOF What WHEN Account THEN Name END FROM Account GROUP BY Name OFFSET 5").unwrap();
        assert!(matches!(q.items[0], Item::CountAll(_)));
        assert!(matches!(&q.items[1], Item::Aggregate(name, _) if name == "MAX"));
        assert!(matches!(q.items[2], Item::Subquery(_)));
        assert!(matches!(q.items[3], Item::TypeOf(_)));
        assert_eq!(q.group_by.len(), 1);
        assert_eq!(q.offset, Some(5));
    }

    #[test]
    fn quote_round_trips() {
        for s in [
            "",
            "plain",
            "it's",
            "back\\slash",
            "line\nbreak",
            "tab\t\"q\"",
            "50%_off",
            "a\\%",
        ] {
            let q = parse(&format!("SELECT Id FROM A WHERE N = {}", quote(s))).unwrap();
            assert_eq!(
                q.filter,
                Some(Expr::Cmp(
                    Path {
                        parts: vec!["N".into()],
                        pos: 23
                    },
                    CmpOp::Eq,
                    Literal::Str(s.into())
                ))
            );
        }
    }
}
