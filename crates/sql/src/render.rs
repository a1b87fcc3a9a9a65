//! Statements → text: the one quoting layer (placeholder: filled in by the render work).

use std::fmt;

use crate::ast::Expr;

pub(crate) fn fmt_expr(expr: &Expr, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "{expr:?}")
}
