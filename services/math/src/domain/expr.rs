//! Expressions in math.js notation: numbers, variables, `+ - * / % ^ !`, comparisons, function
//! calls, constants, assignments and several statements (`a = 2; b = a * 3`).
//!
//! Sandboxed by construction: no loops, no user functions, no I/O. Input length, nesting depth,
//! node count and statement count are bounded, and every operation is counted, so a crafted
//! expression is refused with `EXPRESSION_TOO_COMPLEX` instead of running long.

use std::collections::{BTreeMap, HashMap};

use super::MathError;
use super::numbers::{self, ExactEvaluation};
use super::units::{self, Unit};

/// Limits on one evaluation.
#[derive(Debug, Clone, Copy)]
pub struct ExprLimits {
    pub max_chars: usize,
    pub max_depth: usize,
    pub max_nodes: usize,
}

impl Default for ExprLimits {
    fn default() -> Self {
        Self {
            max_chars: 10_000,
            max_depth: 64,
            max_nodes: 20_000,
        }
    }
}

/// Largest `n` for `n!` (171! overflows f64).
const MAX_FACTORIAL: f64 = 170.0;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// The value and the literal's text.
    Number(f64, String),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    Separator,
}

#[derive(Debug, Clone, PartialEq)]
struct Spanned {
    token: Token,
    /// 1-based character position of the token's start.
    at: usize,
}

fn parse_error(at: usize, message: impl std::fmt::Display) -> MathError {
    MathError::Parse(format!("{message} (at character {at})"))
}

const OPERATORS: [&str; 16] = [
    "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "^", "!", "<", ">", "=", ".*", "./",
];

fn tokenize(text: &str) -> Result<Vec<Spanned>, MathError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i + 1;
        if c == '\n' || c == ';' {
            tokens.push(Spanned {
                token: Token::Separator,
                at,
            });
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let literal: String = chars[start..i].iter().collect();
            let value = literal
                .parse::<f64>()
                .map_err(|_| parse_error(at, format!("`{literal}` is not a number")))?;
            tokens.push(Spanned {
                token: Token::Number(value, literal),
                at,
            });
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Spanned {
                token: Token::Ident(chars[start..i].iter().collect()),
                at,
            });
        } else if c == '(' {
            tokens.push(Spanned {
                token: Token::LParen,
                at,
            });
            i += 1;
        } else if c == ')' {
            tokens.push(Spanned {
                token: Token::RParen,
                at,
            });
            i += 1;
        } else if c == ',' {
            tokens.push(Spanned {
                token: Token::Comma,
                at,
            });
            i += 1;
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = OPERATORS
                .iter()
                .find(|op| op.len() == 2 && two == **op)
                .or_else(|| {
                    OPERATORS
                        .iter()
                        .find(|op| op.len() == 1 && op.starts_with(c))
                })
                .ok_or_else(|| parse_error(at, format!("unexpected character `{c}`")))?;
            i += op.len();
            tokens.push(Spanned {
                token: Token::Op(op),
                at,
            });
        }
    }
    Ok(tokens)
}

/// The syntax tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Number(f64),
    Variable(String, usize),
    Unary(&'static str, Box<Node>),
    Binary(&'static str, Box<Node>, Box<Node>),
    Factorial(Box<Node>, usize),
    Call(String, Vec<Node>, usize),
    /// `value to unit`.
    Convert(Box<Node>, Box<Node>, usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Statement {
    Assign(String, Node),
    Expr(Node),
}

struct Parser<'a> {
    tokens: &'a [Spanned],
    pos: usize,
    depth: usize,
    nodes: usize,
    limits: ExprLimits,
    end: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|s| &s.token)
    }

    fn at(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |s| s.at)
    }

    fn bump(&mut self) -> Option<&Spanned> {
        let token = self.tokens.get(self.pos);
        self.pos += 1;
        token
    }

    fn node(&mut self, node: Node) -> Result<Node, MathError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(MathError::TooComplex(format!(
                "more than {} operations",
                self.limits.max_nodes
            )));
        }
        Ok(node)
    }

    fn enter(&mut self) -> Result<(), MathError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(MathError::TooComplex(format!(
                "nested deeper than {} levels",
                self.limits.max_depth
            )));
        }
        Ok(())
    }

    fn statement(&mut self) -> Result<Statement, MathError> {
        if let (Some(Token::Ident(name)), Some(Token::Op("="))) = (
            self.peek().cloned(),
            self.tokens.get(self.pos + 1).map(|s| &s.token),
        ) {
            self.pos += 2;
            return Ok(Statement::Assign(name, self.expression(0)?));
        }
        Ok(Statement::Expr(self.expression(0)?))
    }

    /// Precedence climbing; levels: 1 comparison, 2 additive, 3 multiplicative, 4 unary,
    /// 5 power (right-associative, binds tighter than a unary minus on its left: -2^2 = -4).
    fn expression(&mut self, min_level: u8) -> Result<Node, MathError> {
        self.enter()?;
        let mut left = self.unary()?;
        loop {
            // `to`/`in` convert units (lowest); a name right after an operand multiplies
            // (`5 cm`, `2 pi`, `60 km/h`), as in math.js.
            let (op, level, implicit) = match self.peek() {
                Some(Token::Ident(word)) if word == "to" || word == "in" => ("to", 0, false),
                Some(Token::Op(op @ ("==" | "!=" | "<" | "<=" | ">" | ">="))) => (*op, 1, false),
                Some(Token::Op(op @ ("+" | "-"))) => (*op, 2, false),
                Some(Token::Op(op @ ("*" | "/" | "%" | ".*" | "./"))) => (*op, 3, false),
                Some(Token::Ident(_)) => ("*", 3, true),
                _ => break,
            };
            if level < min_level {
                break;
            }
            let at = self.at();
            if !implicit {
                self.pos += 1;
            }
            if op == "to" {
                let target = self.expression(1)?;
                left = self.node(Node::Convert(Box::new(left), Box::new(target), at))?;
                continue;
            }
            let right = self.expression(level + 1)?;
            let op = match op {
                ".*" => "*",
                "./" => "/",
                other => other,
            };
            left = self.node(Node::Binary(op, Box::new(left), Box::new(right)))?;
        }
        self.depth -= 1;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, MathError> {
        match self.peek() {
            Some(Token::Op(op @ ("-" | "+"))) => {
                let op = *op;
                self.pos += 1;
                self.enter()?;
                let operand = self.unary()?;
                self.depth -= 1;
                self.node(Node::Unary(op, Box::new(operand)))
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<Node, MathError> {
        let base = self.postfix()?;
        if let Some(Token::Op("^")) = self.peek() {
            self.pos += 1;
            self.enter()?;
            let exponent = self.unary()?;
            self.depth -= 1;
            return self.node(Node::Binary("^", Box::new(base), Box::new(exponent)));
        }
        Ok(base)
    }

    fn postfix(&mut self) -> Result<Node, MathError> {
        let mut node = self.primary()?;
        while let Some(Token::Op("!")) = self.peek() {
            let at = self.at();
            self.pos += 1;
            node = self.node(Node::Factorial(Box::new(node), at))?;
        }
        Ok(node)
    }

    fn primary(&mut self) -> Result<Node, MathError> {
        let at = self.at();
        let Some(spanned) = self.bump().cloned() else {
            return Err(parse_error(at, "unexpected end of expression"));
        };
        match spanned.token {
            Token::Number(n, _) => self.node(Node::Number(n)),
            Token::Ident(name) => {
                if self.peek() == Some(&Token::LParen) {
                    self.pos += 1;
                    let mut args = Vec::new();
                    if self.peek() == Some(&Token::RParen) {
                        self.pos += 1;
                    } else {
                        loop {
                            args.push(self.expression(0)?);
                            let at = self.at();
                            match self.bump().map(|s| &s.token) {
                                Some(Token::Comma) => {}
                                Some(Token::RParen) => break,
                                _ => return Err(parse_error(at, "expected `,` or `)`")),
                            }
                        }
                    }
                    self.node(Node::Call(name, args, at))
                } else {
                    self.node(Node::Variable(name, at))
                }
            }
            Token::LParen => {
                let inner = self.expression(0)?;
                let at = self.at();
                match self.bump().map(|s| &s.token) {
                    Some(Token::RParen) => Ok(inner),
                    _ => Err(parse_error(at, "expected `)`")),
                }
            }
            Token::RParen => Err(parse_error(at, "unexpected `)`")),
            Token::Comma => Err(parse_error(at, "unexpected `,`")),
            Token::Separator => Err(parse_error(at, "unexpected end of statement")),
            Token::Op(op) => Err(parse_error(at, format!("unexpected `{op}`"))),
        }
    }
}

impl Program {
    /// The program as one expression, if it is a single expression statement.
    pub(crate) fn single_expression(&self) -> Option<&Node> {
        match self.statements.as_slice() {
            [Statement::Expr(node)] => Some(node),
            _ => None,
        }
    }
}

/// Evaluates one node with plain-number variables (for calculus on the tree).
pub(crate) fn eval_number(
    node: &Node,
    variables: &BTreeMap<String, f64>,
) -> Result<f64, MathError> {
    let variables: BTreeMap<String, Value> = variables
        .iter()
        .map(|(name, v)| (name.clone(), Value::plain(*v)))
        .collect();
    eval(node, &variables)?.number_for("calculus", 0)
}

/// A parsed program: statements separated by `;` or new lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    statements: Vec<Statement>,
    /// Each number literal's source text by its f64 bits, so fractions and big numbers read
    /// `0.1` or a 40-digit literal exactly rather than through f64.
    literals: HashMap<u64, String>,
}

/// Parses `text` within `limits`.
pub fn parse(text: &str, limits: ExprLimits) -> Result<Program, MathError> {
    if text.chars().count() > limits.max_chars {
        return Err(MathError::TooComplex(format!(
            "longer than {} characters",
            limits.max_chars
        )));
    }
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens: &tokens,
        pos: 0,
        depth: 0,
        nodes: 0,
        limits,
        end: text.chars().count() + 1,
    };
    let mut statements = Vec::new();
    loop {
        while parser.peek() == Some(&Token::Separator) {
            parser.pos += 1;
        }
        if parser.peek().is_none() {
            break;
        }
        statements.push(parser.statement()?);
        match parser.peek() {
            None | Some(Token::Separator) => {}
            Some(_) => {
                let at = parser.at();
                let found = &tokens[parser.pos].token;
                return Err(parse_error(at, format!("unexpected {}", describe(found))));
            }
        }
    }
    if statements.is_empty() {
        return Err(MathError::Parse("the expression is empty".into()));
    }
    let literals = tokens
        .iter()
        .filter_map(|t| match &t.token {
            Token::Number(n, text) => Some((n.to_bits(), text.clone())),
            _ => None,
        })
        .collect();
    Ok(Program {
        statements,
        literals,
    })
}

fn describe(token: &Token) -> String {
    match token {
        Token::Number(_, text) => format!("number `{text}`"),
        Token::Ident(name) => format!("`{name}`"),
        Token::Op(op) => format!("`{op}`"),
        Token::LParen => "`(`".into(),
        Token::RParen => "`)`".into(),
        Token::Comma => "`,`".into(),
        Token::Separator => "`;`".into(),
    }
}

/// A number, possibly with a unit (kept in the unit it is shown in).
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub number: f64,
    pub unit: Option<Unit>,
}

impl Value {
    pub fn plain(number: f64) -> Self {
        Self { number, unit: None }
    }

    /// The plain number, converting dimensionless units (`m/km`) and refusing real ones.
    fn number_for(&self, what: &str, at: usize) -> Result<f64, MathError> {
        match &self.unit {
            None => Ok(self.number),
            Some(unit) if unit.is_dimensionless() => Ok(self.number * unit.scale),
            Some(unit) => Err(MathError::invalid(
                "expression",
                format!(
                    "{what} needs a plain number, got {} {unit} (at character {at})",
                    self.number
                ),
            )),
        }
    }
}

/// The value of the last statement and every variable assigned.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub value: Value,
    /// Booleans from comparisons are kept apart from numbers.
    pub is_boolean: bool,
    pub assigned: BTreeMap<String, Value>,
}

/// Evaluates `program` with `scope` (variables given by the caller).
pub fn evaluate(program: &Program, scope: &BTreeMap<String, f64>) -> Result<Evaluation, MathError> {
    let mut variables: BTreeMap<String, Value> = scope
        .iter()
        .map(|(name, v)| (name.clone(), Value::plain(*v)))
        .collect();
    let mut assigned = BTreeMap::new();
    let mut last = (Value::plain(f64::NAN), false);
    for statement in &program.statements {
        match statement {
            Statement::Assign(name, node) => {
                if constant(name).is_some() {
                    return Err(MathError::Invalid {
                        field: "expression".into(),
                        message: format!("`{name}` is a constant and cannot be assigned"),
                    });
                }
                let value = eval(node, &variables)?;
                variables.insert(name.clone(), value.clone());
                assigned.insert(name.clone(), value.clone());
                last = (value, false);
            }
            Statement::Expr(node) => last = (eval(node, &variables)?, is_comparison(node)),
        }
    }
    Ok(Evaluation {
        value: last.0,
        is_boolean: last.1,
        assigned,
    })
}

/// math.js's `number` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberMode {
    /// f64 with units; complex numbers when the expression needs them.
    Number,
    /// Exact rationals.
    Fraction,
    /// Decimals with this many significant digits.
    BigNumber(u64),
}

/// A result in f64 (with units), or in another number system.
#[derive(Debug, Clone, PartialEq)]
pub enum ModeEvaluation {
    Real(Evaluation),
    Exact(ExactEvaluation),
}

/// Evaluates `program` in `mode`. The default mode computes in f64 and turns to complex numbers
/// when the expression names `i` or its real answer is NaN where a complex one exists
/// (`sqrt(-4)` is `2i`, as in math.js).
pub fn evaluate_in_mode(
    program: &Program,
    scope: &BTreeMap<String, f64>,
    mode: NumberMode,
) -> Result<ModeEvaluation, MathError> {
    // Borrowed, not cloned: the default mode rarely needs them, and evaluation is a hot path.
    let statements: Vec<(Option<&str>, &Node)> = program
        .statements
        .iter()
        .map(|s| match s {
            Statement::Assign(name, node) => (Some(name.as_str()), node),
            Statement::Expr(node) => (None, node),
        })
        .collect();
    let literals = &program.literals;
    let boolean =
        matches!(program.statements.last(), Some(Statement::Expr(node)) if is_comparison(node));
    let exact = |mut e: ExactEvaluation| {
        e.is_boolean = boolean;
        ModeEvaluation::Exact(e)
    };
    match mode {
        NumberMode::Fraction => numbers::fraction(&statements, scope, literals).map(exact),
        NumberMode::BigNumber(precision) => {
            numbers::bignumber(&statements, scope, literals, precision).map(exact)
        }
        NumberMode::Number => {
            let names_i = !scope.contains_key("i")
                && !statements.iter().any(|(name, _)| *name == Some("i"))
                && statements.iter().any(|(_, node)| mentions(node, "i"));
            if names_i {
                return numbers::complex(&statements, scope, literals).map(exact);
            }
            let real = evaluate(program, scope)?;
            let nan = real.value.number.is_nan() && real.value.unit.is_none();
            let names_nan = statements.iter().any(|(_, node)| mentions(node, "NaN"));
            if nan
                && !names_nan
                && let Ok(complex) = numbers::complex(&statements, scope, literals)
                && matches!(complex.value, numbers::Exact::Complex(c) if c.re.is_finite() && c.im.is_finite())
            {
                return Ok(exact(complex));
            }
            Ok(ModeEvaluation::Real(real))
        }
    }
}

/// Whether `node` uses the symbol `name`.
fn mentions(node: &Node, name: &str) -> bool {
    match node {
        Node::Number(_) => false,
        Node::Variable(v, _) => v == name,
        Node::Unary(_, a) | Node::Factorial(a, _) => mentions(a, name),
        Node::Binary(_, a, b) | Node::Convert(a, b, _) => mentions(a, name) || mentions(b, name),
        Node::Call(_, args, _) => args.iter().any(|a| mentions(a, name)),
    }
}

fn is_comparison(node: &Node) -> bool {
    matches!(
        node,
        Node::Binary("==" | "!=" | "<" | "<=" | ">" | ">=", _, _)
    )
}

fn constant(name: &str) -> Option<f64> {
    Some(match name {
        "pi" | "PI" => std::f64::consts::PI,
        "e" | "E" => std::f64::consts::E,
        "tau" => std::f64::consts::TAU,
        "phi" => 1.618_033_988_749_895,
        "LN2" => std::f64::consts::LN_2,
        "LN10" => std::f64::consts::LN_10,
        "LOG2E" => std::f64::consts::LOG2_E,
        "LOG10E" => std::f64::consts::LOG10_E,
        "SQRT2" => std::f64::consts::SQRT_2,
        "SQRT1_2" => std::f64::consts::FRAC_1_SQRT_2,
        "Infinity" => f64::INFINITY,
        "NaN" => f64::NAN,
        "true" => 1.0,
        "false" => 0.0,
        _ => return None,
    })
}

fn truth(b: bool) -> Value {
    Value::plain(f64::from(u8::from(b)))
}

fn eval(node: &Node, variables: &BTreeMap<String, Value>) -> Result<Value, MathError> {
    Ok(match node {
        Node::Number(n) => Value::plain(*n),
        Node::Variable(name, at) => match variables.get(name) {
            Some(v) => v.clone(),
            None => match (constant(name), units::lookup(name)) {
                (Some(c), _) => Value::plain(c),
                (None, Some(unit)) => Value {
                    number: 1.0,
                    unit: Some(unit),
                },
                (None, None) => {
                    return Err(MathError::Invalid {
                        field: "expression".into(),
                        message: format!("undefined symbol `{name}` (at character {at})"),
                    });
                }
            },
        },
        Node::Unary(op, operand) => {
            let v = eval(operand, variables)?;
            if *op == "-" {
                Value {
                    number: -v.number,
                    unit: v.unit,
                }
            } else {
                v
            }
        }
        Node::Binary(op, left, right) => {
            binary(op, eval(left, variables)?, eval(right, variables)?)?
        }
        Node::Factorial(operand, at) => {
            let n = eval(operand, variables)?.number_for("factorial", *at)?;
            Value::plain(factorial(n, *at)?)
        }
        Node::Call(name, args, at) => {
            let values = args
                .iter()
                .map(|a| eval(a, variables))
                .collect::<Result<Vec<_>, _>>()?;
            call_with_units(name, &values, *at)?
        }
        Node::Convert(value, target, at) => {
            let value = eval(value, variables)?;
            let target = eval(target, variables)?;
            let (Some(from), Some(to)) = (&value.unit, &target.unit) else {
                return Err(MathError::invalid(
                    "expression",
                    format!(
                        "`to` converts a quantity with a unit into another unit (at character {at})"
                    ),
                ));
            };
            if target.number != 1.0 {
                return Err(MathError::invalid(
                    "expression",
                    format!(
                        "the target of `to` must be a unit, not a quantity (at character {at})"
                    ),
                ));
            }
            Value {
                number: from.convert(value.number, to)?,
                unit: Some(to.clone()),
            }
        }
    })
}

fn binary(op: &str, a: Value, b: Value) -> Result<Value, MathError> {
    // Plain numbers: the common case, no unit bookkeeping.
    if a.unit.is_none() && b.unit.is_none() {
        let (x, y) = (a.number, b.number);
        return Ok(match op {
            "+" => Value::plain(x + y),
            "-" => Value::plain(x - y),
            "*" => Value::plain(x * y),
            "/" => Value::plain(x / y),
            // math.js: the result of mod has the sign of the divisor.
            "%" => Value::plain(x - y * (x / y).floor()),
            "^" => Value::plain(x.powf(y)),
            "==" => truth(x == y),
            "!=" => truth(x != y),
            "<" => truth(x < y),
            "<=" => truth(x <= y),
            ">" => truth(x > y),
            ">=" => truth(x >= y),
            other => unreachable!("the parser makes no `{other}`"),
        });
    }
    match op {
        "*" | "/" => {
            let sign = if op == "*" { 1 } else { -1 };
            let number = if sign > 0 {
                a.number * b.number
            } else {
                a.number / b.number
            };
            let unit = match (a.unit, b.unit) {
                (Some(u), Some(v)) => Some(u.combine(&v, sign)),
                (Some(u), None) => Some(u),
                (None, Some(v)) if sign > 0 => Some(v),
                (None, Some(v)) => Some(Unit::one().combine(&v, -1)),
                (None, None) => None,
            };
            Ok(Value {
                number,
                unit: unit.filter(|u| !u.parts.is_empty()),
            })
        }
        "^" => {
            let exponent = b.number_for("an exponent", 0)?;
            let unit = a.unit.as_ref().map(|u| {
                if exponent.fract() == 0.0 {
                    u.powi(exponent as i32)
                } else {
                    Err(MathError::invalid(
                        "expression",
                        "units can only be raised to whole powers",
                    ))
                }
            });
            Ok(Value {
                number: a.number.powf(exponent),
                unit: unit.transpose()?,
            })
        }
        _ => {
            // Sums and comparisons: both sides in the left side's unit.
            let (Some(unit), Some(other)) = (&a.unit, &b.unit) else {
                return Err(MathError::invalid(
                    "expression",
                    format!("cannot combine a plain number and a quantity with `{op}`"),
                ));
            };
            let y = other.convert(b.number, unit)?;
            let x = a.number;
            Ok(match op {
                "+" => Value {
                    number: x + y,
                    unit: a.unit,
                },
                "-" => Value {
                    number: x - y,
                    unit: a.unit,
                },
                "%" => Value {
                    number: x - y * (x / y).floor(),
                    unit: a.unit,
                },
                "==" => truth(x == y),
                "!=" => truth(x != y),
                "<" => truth(x < y),
                "<=" => truth(x <= y),
                ">" => truth(x > y),
                ">=" => truth(x >= y),
                other => unreachable!("the parser makes no `{other}`"),
            })
        }
    }
}

/// Functions that understand units: trigonometry takes angles, rounding keeps the unit, `sqrt`
/// halves even powers; every other function needs plain numbers.
fn call_with_units(name: &str, args: &[Value], at: usize) -> Result<Value, MathError> {
    if args.iter().all(|a| a.unit.is_none()) {
        let numbers: Vec<f64> = args.iter().map(|a| a.number).collect();
        return call(name, &numbers, at).map(Value::plain);
    }
    match (name, args) {
        ("sin" | "cos" | "tan" | "sec" | "csc" | "cot", [angle]) => {
            let radians = units::lookup("rad")
                .ok_or_else(|| MathError::invalid("expression", "no radians"))?;
            let unit = angle
                .unit
                .as_ref()
                .ok_or_else(|| MathError::invalid("expression", "no unit"))?;
            let x = unit.convert(angle.number, &radians)?;
            call(name, &[x], at).map(Value::plain)
        }
        ("abs" | "floor" | "ceil" | "fix" | "round", [first, rest @ ..])
            if rest.iter().all(|r| r.unit.is_none()) =>
        {
            let mut numbers = vec![first.number];
            numbers.extend(rest.iter().map(|r| r.number));
            Ok(Value {
                number: call(name, &numbers, at)?,
                unit: first.unit.clone(),
            })
        }
        ("sqrt", [value]) => {
            let unit = value
                .unit
                .as_ref()
                .ok_or_else(|| MathError::invalid("expression", "no unit"))?;
            if unit.dimensions.iter().any(|d| d % 2 != 0)
                || unit.parts.iter().any(|(_, p)| p % 2 != 0)
            {
                return Err(MathError::invalid(
                    "expression",
                    format!("sqrt of {unit} has no unit (at character {at})"),
                ));
            }
            let mut root = unit.clone();
            for d in &mut root.dimensions {
                *d /= 2;
            }
            for part in &mut root.parts {
                part.1 /= 2;
            }
            root.scale = unit.scale.sqrt();
            Ok(Value {
                number: value.number.sqrt(),
                unit: Some(root),
            })
        }
        _ => {
            let numbers = args
                .iter()
                .map(|a| a.number_for(&format!("`{name}`"), at))
                .collect::<Result<Vec<_>, _>>()?;
            call(name, &numbers, at).map(Value::plain)
        }
    }
}

fn factorial(n: f64, at: usize) -> Result<f64, MathError> {
    if n < 0.0 || n.fract() != 0.0 {
        return Err(MathError::Invalid {
            field: "expression".into(),
            message: format!("factorial needs a non-negative integer, got {n} (at character {at})"),
        });
    }
    if n > MAX_FACTORIAL {
        return Ok(f64::INFINITY);
    }
    Ok((1..=n as u64).fold(1.0, |acc, k| acc * k as f64))
}

fn gcd(a: f64, b: f64) -> f64 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b > 0.0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `n choose k` without overflowing intermediate factorials. Past `k = 1100` (with `k` the
/// smaller side) the answer exceeds f64 anyway, so the loop stays short for any input.
pub fn combinations(n: f64, k: f64) -> f64 {
    let k = k.min(n - k);
    if k > 1_100.0 {
        return f64::INFINITY;
    }
    (0..k as u64)
        .fold(1.0, |acc, i| acc * (n - i as f64) / (i as f64 + 1.0))
        .round()
}

/// `n! / (n - k)!`; at least `k!`, so past `k = 170` it is infinite.
fn permutations(n: f64, k: f64) -> f64 {
    if k > MAX_FACTORIAL {
        return f64::INFINITY;
    }
    ((n - k + 1.0) as u64..=n as u64).fold(1.0, |acc, i| acc * i as f64)
}

/// A function of the default mode over plain numbers (complex evaluation falls back to it for
/// real arguments).
pub(crate) fn call_real(name: &str, args: &[f64], at: usize) -> Result<f64, MathError> {
    call(name, args, at)
}

fn call(name: &str, args: &[f64], at: usize) -> Result<f64, MathError> {
    let arity = |expected: &str, ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(MathError::Invalid {
                field: "expression".into(),
                message: format!(
                    "`{name}` takes {expected} argument(s), got {} (at character {at})",
                    args.len()
                ),
            })
        }
    };
    let integers = |values: &[f64]| {
        if values.iter().all(|v| v.fract() == 0.0) {
            Ok(())
        } else {
            Err(MathError::Invalid {
                field: "expression".into(),
                message: format!("`{name}` needs integers (at character {at})"),
            })
        }
    };
    let one = |f: fn(f64) -> f64| -> Result<f64, MathError> {
        arity("1", args.len() == 1)?;
        Ok(f(args[0]))
    };
    match name {
        "sqrt" => one(f64::sqrt),
        "cbrt" => one(f64::cbrt),
        "abs" => one(f64::abs),
        "exp" => one(f64::exp),
        "expm1" => one(f64::exp_m1),
        "log10" => one(f64::log10),
        "log2" => one(f64::log2),
        "log1p" => one(f64::ln_1p),
        "ln" => one(f64::ln),
        "sin" => one(f64::sin),
        "cos" => one(f64::cos),
        "tan" => one(f64::tan),
        "asin" => one(f64::asin),
        "acos" => one(f64::acos),
        "atan" => one(f64::atan),
        "sinh" => one(f64::sinh),
        "cosh" => one(f64::cosh),
        "tanh" => one(f64::tanh),
        "asinh" => one(f64::asinh),
        "acosh" => one(f64::acosh),
        "atanh" => one(f64::atanh),
        "sec" => one(|x| 1.0 / x.cos()),
        "csc" => one(|x| 1.0 / x.sin()),
        "cot" => one(|x| 1.0 / x.tan()),
        "floor" => one(f64::floor),
        "ceil" => one(f64::ceil),
        "fix" => one(f64::trunc),
        "sign" => one(|x| if x == 0.0 { 0.0 } else { x.signum() }),
        "cube" => one(|x| x * x * x),
        "square" => one(|x| x * x),
        "factorial" => {
            arity("1", args.len() == 1)?;
            factorial(args[0], at)
        }
        "log" => match args {
            [x] => Ok(x.ln()),
            [x, base] => Ok(x.ln() / base.ln()),
            _ => arity("1 or 2", false).map(|()| f64::NAN),
        },
        "round" => match args {
            [x] => Ok(round_half_away(*x, 0)),
            [x, digits] => {
                integers(&[*digits])?;
                Ok(round_half_away(*x, digits.clamp(0.0, 15.0) as i32))
            }
            _ => arity("1 or 2", false).map(|()| f64::NAN),
        },
        "pow" => {
            arity("2", args.len() == 2)?;
            Ok(args[0].powf(args[1]))
        }
        "atan2" => {
            arity("2", args.len() == 2)?;
            Ok(args[0].atan2(args[1]))
        }
        "hypot" => Ok(args.iter().map(|v| v * v).sum::<f64>().sqrt()),
        "mod" => {
            arity("2", args.len() == 2)?;
            Ok(args[0] - args[1] * (args[0] / args[1]).floor())
        }
        "nthRoot" => {
            arity("2", args.len() == 2)?;
            let (x, n) = (args[0], args[1]);
            Ok(if x < 0.0 && n % 2.0 == 1.0 {
                -(-x).powf(1.0 / n)
            } else {
                x.powf(1.0 / n)
            })
        }
        "min" | "max" => {
            arity("1 or more", !args.is_empty())?;
            Ok(args
                .iter()
                .copied()
                .reduce(if name == "min" { f64::min } else { f64::max })
                .unwrap_or(f64::NAN))
        }
        "sum" => Ok(args.iter().sum()),
        "mean" => {
            arity("1 or more", !args.is_empty())?;
            Ok(args.iter().sum::<f64>() / args.len() as f64)
        }
        "gcd" | "lcm" => {
            arity("2 or more", args.len() >= 2)?;
            integers(args)?;
            Ok(if name == "gcd" {
                args.iter().copied().reduce(gcd).unwrap_or(0.0)
            } else {
                args.iter()
                    .copied()
                    .reduce(|a, b| {
                        if a == 0.0 || b == 0.0 {
                            0.0
                        } else {
                            (a * b).abs() / gcd(a, b)
                        }
                    })
                    .unwrap_or(0.0)
            })
        }
        "combinations" | "permutations" => {
            arity("2", args.len() == 2)?;
            integers(args)?;
            let (n, k) = (args[0], args[1]);
            if n < 0.0 || k < 0.0 || k > n {
                return Err(MathError::Invalid {
                    field: "expression".into(),
                    message: format!("`{name}` needs 0 <= k <= n (at character {at})"),
                });
            }
            Ok(if name == "combinations" {
                combinations(n, k)
            } else {
                permutations(n, k)
            })
        }
        _ => Err(MathError::Invalid {
            field: "expression".into(),
            message: format!("unknown function `{name}` (at character {at})"),
        }),
    }
}

/// Rounds half away from zero at `digits` decimals (math.js `round`).
pub fn round_half_away(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    let scaled = x * scale;
    // Correct representation error (1.005 * 100 = 100.49999…) before rounding.
    let nudged = (scaled * 1e12).round() / 1e12;
    nudged.round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> f64 {
        quantity(text).0
    }

    fn quantity(text: &str) -> (f64, String) {
        let result = evaluate(
            &parse(text, ExprLimits::default()).unwrap(),
            &BTreeMap::new(),
        )
        .unwrap()
        .value;
        (
            result.number,
            result.unit.map(|u| u.to_string()).unwrap_or_default(),
        )
    }

    fn error(text: &str) -> String {
        match parse(text, ExprLimits::default()).and_then(|p| evaluate(&p, &BTreeMap::new())) {
            Err(MathError::Parse(m) | MathError::TooComplex(m)) => m,
            Err(MathError::Invalid { message, .. }) => message,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn arithmetic_follows_math_js_precedence() {
        assert_eq!(value("1 + 2 * 3"), 7.0);
        assert_eq!(value("(1 + 2) * 3"), 9.0);
        assert_eq!(value("2 ^ 3 ^ 2"), 512.0, "power is right-associative");
        assert_eq!(
            value("-2 ^ 2"),
            -4.0,
            "power binds tighter than unary minus"
        );
        assert_eq!(value("2 ^ -1"), 0.5);
        assert_eq!(value("10 / 4"), 2.5);
        assert_eq!(value("-7 % 3"), 2.0, "mod takes the divisor's sign");
        assert_eq!(value("5!"), 120.0);
        assert_eq!(value("3! ^ 2"), 36.0);
        assert_eq!(value("1.5e3 + .5"), 1500.5);
        assert_eq!(value("2 < 3"), 1.0);
    }

    #[test]
    fn functions_and_constants() {
        assert!((value("sin(pi / 2)") - 1.0).abs() < 1e-15);
        assert_eq!(value("sqrt(16) + abs(-2)"), 6.0);
        assert_eq!(value("log(8, 2)"), 3.0);
        assert_eq!(value("log10(1000)"), 3.0);
        assert_eq!(value("round(2.5)"), 3.0);
        assert_eq!(value("round(-2.5)"), -3.0);
        assert_eq!(value("round(1.005, 2)"), 1.01);
        assert_eq!(value("gcd(12, 18) + lcm(4, 6)"), 18.0);
        assert_eq!(value("combinations(52, 5)"), 2_598_960.0);
        assert_eq!(value("permutations(5, 2)"), 20.0);
        assert_eq!(value("max(1, 7, 3) - min(4, 2)"), 5.0);
        assert_eq!(value("factorial(170) > 1e306"), 1.0);
        assert!(value("171!").is_infinite());
        assert_eq!(value("nthRoot(-27, 3)"), -3.0);
    }

    #[test]
    fn statements_and_scope() {
        let program = parse("a = 2; b = a * 3\nb + 1", ExprLimits::default()).unwrap();
        let result = evaluate(&program, &BTreeMap::new()).unwrap();
        assert_eq!(result.value, Value::plain(7.0));
        assert_eq!(result.assigned["a"], Value::plain(2.0));
        assert_eq!(result.assigned["b"], Value::plain(6.0));
        let scope = BTreeMap::from([("x".to_owned(), 4.0)]);
        let program = parse("x ^ 2", ExprLimits::default()).unwrap();
        assert_eq!(
            evaluate(&program, &scope).unwrap().value,
            Value::plain(16.0)
        );
    }

    #[test]
    fn units_convert_and_combine() {
        let (v, unit) = quantity("5 cm to inch");
        assert!((v - 1.968_503_937_007_874).abs() < 1e-12);
        assert_eq!(unit, "inch");
        let (v, unit) = quantity("100 degC to degF");
        assert!((v - 212.0).abs() < 1e-9);
        assert_eq!(unit, "degF");
        let (v, unit) = quantity("60 km/h to m/s");
        assert!((v - 16.666_666_666_666_668).abs() < 1e-9);
        assert_eq!(unit, "m / s");
        assert_eq!(quantity("1.5 GiB in MiB"), (1_536.0, "MiB".into()));
        assert_eq!(quantity("2 m * 3 m"), (6.0, "m^2".into()));
        let (v, unit) = quantity("1 m + 20 cm");
        assert!((v - 1.2).abs() < 1e-12);
        assert_eq!(unit, "m");
        assert!((value("sin(90 deg)") - 1.0).abs() < 1e-15);
        assert_eq!(quantity("sqrt(16 m^2)"), (4.0, "m".into()));
        assert_eq!(value("1 km > 900 m"), 1.0);
        assert_eq!(quantity("2 pi"), (std::f64::consts::TAU, String::new()));
        assert!(error("1 kg to m").contains("different things"));
        assert!(error("5 to cm").contains("converts a quantity"));
        assert!(error("1 m + 2").contains("plain number and a quantity"));
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(
            error("2 +"),
            "unexpected end of expression (at character 4)"
        );
        assert_eq!(error("(1 + 2"), "expected `)` (at character 7)");
        assert_eq!(error("1 + 2)"), "unexpected `)` (at character 6)");
        assert_eq!(error("3 # 4"), "unexpected character `#` (at character 3)");
        assert_eq!(error("foo + 1"), "undefined symbol `foo` (at character 1)");
        assert_eq!(error("blah(1)"), "unknown function `blah` (at character 1)");
        assert_eq!(
            error("(-1)!"),
            "factorial needs a non-negative integer, got -1 (at character 5)"
        );
        assert_eq!(error("pi = 3"), "`pi` is a constant and cannot be assigned");
        assert_eq!(
            error("pow(1)"),
            "`pow` takes 2 argument(s), got 1 (at character 1)"
        );
    }

    #[test]
    fn runaway_input_is_refused() {
        let deep = format!("{}1{}", "(".repeat(100), ")".repeat(100));
        assert_eq!(error(&deep), "nested deeper than 64 levels");
        let long = "1+".repeat(6_000) + "1";
        assert_eq!(error(&long), "longer than 10000 characters");
        let many = "1+".repeat(4_999) + "1";
        let limits = ExprLimits {
            max_nodes: 1_000,
            ..ExprLimits::default()
        };
        assert!(matches!(
            parse(&many, limits),
            Err(MathError::TooComplex(_))
        ));
        let negations = "-".repeat(200) + "1";
        assert_eq!(error(&negations), "nested deeper than 64 levels");
        // Loops inside functions are bounded whatever the arguments.
        assert!(value("combinations(1e15, 5e14)").is_infinite());
        assert!(value("permutations(1e15, 5e14)").is_infinite());
    }
}
