//! Number systems beyond f64, over the same parsed expressions (math.js's `number` setting):
//!
//! - complex numbers: `i` and roots of negatives (`sqrt(-4)` = `2i`), in the default mode when an
//!   expression needs them;
//! - fractions: exact rationals of any size (`1/3 + 1/6` = `1/2`);
//! - big numbers: decimals with a chosen number of significant digits (`0.1 + 0.2` = `0.3`).
//!
//! Units belong to the default (f64) mode; these systems refuse them with a clear error.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU64;
use std::str::FromStr;

use bigdecimal::{BigDecimal, Context, RoundingMode};
use num_bigint::BigInt;
use num_complex::Complex64;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

use super::MathError;
use super::expr::Node;

/// Most significant digits of a big number.
pub const MAX_PRECISION: u64 = 1000;
/// Largest exponent of an exact power (`x ^ n`), so `2 ^ 1e9` cannot eat the machine.
const MAX_EXACT_EXPONENT: i64 = 10_000;
/// Most digits in a fraction's numerator or denominator.
const MAX_FRACTION_DIGITS: u64 = 100_000;

/// A value in one of the systems.
#[derive(Debug, Clone, PartialEq)]
pub enum Exact {
    Complex(Complex64),
    Fraction(BigRational),
    Decimal(BigDecimal),
}

impl Exact {
    /// The nearest f64, when the value is real.
    pub fn approx(&self) -> Option<f64> {
        match self {
            Self::Complex(c) if c.im == 0.0 => Some(c.re),
            Self::Complex(_) => None,
            Self::Fraction(r) => r.to_f64(),
            Self::Decimal(d) => d.to_f64(),
        }
    }

    /// `2 + 3i`, `1/3`, `0.30000000000000000001`.
    pub fn formatted(&self, digits: usize) -> String {
        match self {
            Self::Complex(c) => format_complex(*c, digits),
            Self::Fraction(r) if r.is_integer() => r.numer().to_string(),
            Self::Fraction(r) => format!("{}/{}", r.numer(), r.denom()),
            Self::Decimal(d) => {
                let d = d.normalized();
                if d.is_integer() && d.abs() < BigDecimal::from(10).powi(40) {
                    d.with_scale(0).to_string()
                } else {
                    d.to_string()
                }
            }
        }
    }

    /// `complex`, `fraction` or `bignumber`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Complex(_) => "complex",
            Self::Fraction(_) => "fraction",
            Self::Decimal(_) => "bignumber",
        }
    }
}

fn format_real(x: f64, digits: usize) -> String {
    let text = format!("{:.*e}", digits.saturating_sub(1), x);
    let value: f64 = text.parse().unwrap_or(x);
    format!("{value}")
}

fn format_complex(c: Complex64, digits: usize) -> String {
    let re = format_real(c.re, digits);
    let im = format_real(c.im.abs(), digits);
    let im = if im == "1" { String::new() } else { im };
    match (c.re == 0.0, c.im == 0.0) {
        (_, true) => re,
        (true, false) if c.im < 0.0 => format!("-{im}i"),
        (true, false) => format!("{im}i"),
        (false, false) => {
            let sign = if c.im < 0.0 { '-' } else { '+' };
            format!("{re} {sign} {im}i")
        }
    }
}

/// One system's arithmetic.
trait System {
    type Value: Clone;
    fn name(&self) -> &'static str;
    fn literal(&self, value: f64, text: Option<&str>) -> Result<Self::Value, MathError>;
    fn constant(&self, name: &str) -> Option<Self::Value>;
    fn negate(&self, value: Self::Value) -> Self::Value;
    fn binary(&self, op: &str, a: Self::Value, b: Self::Value) -> Result<Self::Value, MathError>;
    fn call(&self, name: &str, args: Vec<Self::Value>, at: usize)
    -> Result<Self::Value, MathError>;
    fn wrap(&self, value: Self::Value) -> Exact;
}

fn invalid(message: impl Into<String>) -> MathError {
    MathError::invalid("expression", message)
}

fn unsupported(system: &str, name: &str, at: usize) -> MathError {
    invalid(format!(
        "`{name}` is not available for {system} (at character {at})"
    ))
}

fn arity<T>(name: &str, args: Vec<T>, n: usize, at: usize) -> Result<Vec<T>, MathError> {
    if args.len() == n {
        Ok(args)
    } else {
        Err(invalid(format!(
            "`{name}` takes {n} argument(s), got {} (at character {at})",
            args.len()
        )))
    }
}

fn evaluate_in<S: System>(
    system: &S,
    node: &Node,
    variables: &BTreeMap<String, S::Value>,
    literals: &HashMap<u64, String>,
) -> Result<S::Value, MathError> {
    let recurse = |node: &Node| evaluate_in(system, node, variables, literals);
    Ok(match node {
        Node::Number(n) => system.literal(*n, literals.get(&n.to_bits()).map(String::as_str))?,
        Node::Variable(name, at) => match variables.get(name) {
            Some(value) => value.clone(),
            None => system.constant(name).ok_or_else(|| {
                invalid(format!(
                    "undefined symbol `{name}` (at character {at}; units need the default number mode)"
                ))
            })?,
        },
        Node::Unary(op, operand) => {
            let value = recurse(operand)?;
            if *op == "-" {
                system.negate(value)
            } else {
                value
            }
        }
        Node::Binary(op, left, right) => system.binary(op, recurse(left)?, recurse(right)?)?,
        Node::Factorial(operand, at) => system.call("factorial", vec![recurse(operand)?], *at)?,
        Node::Call(name, args, at) => {
            let values = args.iter().map(recurse).collect::<Result<Vec<_>, _>>()?;
            system.call(name, values, *at)?
        }
        Node::Convert(_, _, at) => {
            return Err(invalid(format!(
                "unit conversion needs the default number mode (at character {at})"
            )));
        }
    })
}

/// The value of the last statement and every variable assigned, in one system.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactEvaluation {
    pub value: Exact,
    pub assigned: BTreeMap<String, Exact>,
    /// The last statement is a comparison (its value is 1 or 0).
    pub is_boolean: bool,
}

fn run<S: System>(
    system: &S,
    statements: &[(Option<&str>, &Node)],
    scope: &BTreeMap<String, f64>,
    literals: &HashMap<u64, String>,
) -> Result<ExactEvaluation, MathError> {
    let mut variables = BTreeMap::new();
    for (name, value) in scope {
        variables.insert(name.clone(), system.literal(*value, None)?);
    }
    let mut assigned = BTreeMap::new();
    let mut last = None;
    for (name, node) in statements {
        let value = evaluate_in(system, node, &variables, literals)?;
        if let Some(name) = name {
            variables.insert((*name).to_owned(), value.clone());
            assigned.insert((*name).to_owned(), system.wrap(value.clone()));
        }
        last = Some(value);
    }
    let value = last.ok_or_else(|| MathError::Parse("the expression is empty".into()))?;
    Ok(ExactEvaluation {
        value: system.wrap(value),
        assigned,
        is_boolean: false,
    })
}

/// Evaluates with complex numbers.
pub(crate) fn complex(
    statements: &[(Option<&str>, &Node)],
    scope: &BTreeMap<String, f64>,
    literals: &HashMap<u64, String>,
) -> Result<ExactEvaluation, MathError> {
    run(&Complexes, statements, scope, literals)
}

/// Evaluates with exact fractions.
pub(crate) fn fraction(
    statements: &[(Option<&str>, &Node)],
    scope: &BTreeMap<String, f64>,
    literals: &HashMap<u64, String>,
) -> Result<ExactEvaluation, MathError> {
    run(&Fractions, statements, scope, literals)
}

/// Evaluates with decimals of `precision` significant digits.
pub(crate) fn bignumber(
    statements: &[(Option<&str>, &Node)],
    scope: &BTreeMap<String, f64>,
    literals: &HashMap<u64, String>,
    precision: u64,
) -> Result<ExactEvaluation, MathError> {
    let precision = NonZeroU64::new(precision.clamp(1, MAX_PRECISION))
        .ok_or_else(|| invalid("precision must be positive"))?;
    run(
        &Decimals {
            context: Context::new(precision, RoundingMode::HalfEven),
        },
        statements,
        scope,
        literals,
    )
}

fn truth_f64(b: bool) -> f64 {
    f64::from(u8::from(b))
}

/// Exact systems' comparisons: 1 or 0.
fn comparison<T: PartialOrd + Zero + One>(op: &str, a: &T, b: &T) -> Option<T> {
    let holds = match op {
        "==" => a == b,
        "!=" => a != b,
        "<" => a < b,
        "<=" => a <= b,
        ">" => a > b,
        ">=" => a >= b,
        _ => return None,
    };
    Some(if holds { T::one() } else { T::zero() })
}

fn nonzero<T: Zero>(divisor: &T) -> Result<(), MathError> {
    if divisor.is_zero() {
        Err(invalid("division by zero"))
    } else {
        Ok(())
    }
}

struct Complexes;

impl System for Complexes {
    type Value = Complex64;

    fn name(&self) -> &'static str {
        "complex numbers"
    }

    fn literal(&self, value: f64, _: Option<&str>) -> Result<Complex64, MathError> {
        Ok(Complex64::new(value, 0.0))
    }

    fn constant(&self, name: &str) -> Option<Complex64> {
        Some(match name {
            "i" => Complex64::i(),
            "pi" | "PI" => Complex64::from(std::f64::consts::PI),
            "e" | "E" => Complex64::from(std::f64::consts::E),
            "tau" => Complex64::from(std::f64::consts::TAU),
            "Infinity" => Complex64::from(f64::INFINITY),
            "true" => Complex64::from(1.0),
            "false" => Complex64::from(0.0),
            _ => return None,
        })
    }

    fn negate(&self, value: Complex64) -> Complex64 {
        // -(4 + 0i) is -4 + 0i, not -4 - 0i: a negative zero would put `sqrt(-4)` on the other
        // side of the branch cut (-2i).
        Complex64::new(-value.re, if value.im == 0.0 { 0.0 } else { -value.im })
    }

    fn binary(&self, op: &str, a: Complex64, b: Complex64) -> Result<Complex64, MathError> {
        let real = |what: &str| -> Result<(f64, f64), MathError> {
            if a.im == 0.0 && b.im == 0.0 {
                Ok((a.re, b.re))
            } else {
                Err(invalid(format!("complex numbers have no order: `{what}`")))
            }
        };
        Ok(match op {
            "+" => a + b,
            "-" => a - b,
            "*" => a * b,
            "/" => a / b,
            "^" if b.im == 0.0 && b.re.fract() == 0.0 && b.re.abs() <= 64.0 => a.powi(b.re as i32),
            "^" => a.powc(b),
            "==" => Complex64::from(truth_f64(a == b)),
            "!=" => Complex64::from(truth_f64(a != b)),
            "%" => {
                let (x, y) = real("%")?;
                Complex64::from(x - y * (x / y).floor())
            }
            "<" | "<=" | ">" | ">=" => {
                let (x, y) = real(op)?;
                Complex64::from(truth_f64(match op {
                    "<" => x < y,
                    "<=" => x <= y,
                    ">" => x > y,
                    _ => x >= y,
                }))
            }
            other => unreachable!("the parser makes no `{other}`"),
        })
    }

    fn call(&self, name: &str, args: Vec<Complex64>, at: usize) -> Result<Complex64, MathError> {
        if let [z] = args.as_slice() {
            let z = *z;
            let value = match name {
                "sqrt" => Some(z.sqrt()),
                "exp" => Some(z.exp()),
                "ln" => Some(z.ln()),
                "log" => Some(z.ln()),
                "log10" => Some(z.log10()),
                "log2" => Some(z.log2()),
                "sin" => Some(z.sin()),
                "cos" => Some(z.cos()),
                "tan" => Some(z.tan()),
                "asin" => Some(z.asin()),
                "acos" => Some(z.acos()),
                "atan" => Some(z.atan()),
                "sinh" => Some(z.sinh()),
                "cosh" => Some(z.cosh()),
                "tanh" => Some(z.tanh()),
                "abs" => Some(Complex64::from(z.norm())),
                "arg" => Some(Complex64::from(z.arg())),
                "conj" => Some(z.conj()),
                "re" => Some(Complex64::from(z.re)),
                "im" => Some(Complex64::from(z.im)),
                "cbrt" => Some(z.cbrt()),
                "square" => Some(z * z),
                "cube" => Some(z * z * z),
                _ => None,
            };
            if let Some(value) = value {
                return Ok(value);
            }
        }
        match name {
            "pow" => {
                let args = arity(name, args, 2, at)?;
                Ok(args[0].powc(args[1]))
            }
            "complex" => {
                let args = arity(name, args, 2, at)?;
                if args.iter().any(|a| a.im != 0.0) {
                    return Err(invalid("`complex(re, im)` takes two real numbers"));
                }
                Ok(Complex64::new(args[0].re, args[1].re))
            }
            "log" if args.len() == 2 => Ok(args[0].ln() / args[1].ln()),
            _ if args.iter().all(|a| a.im == 0.0) => {
                // Real arguments: the default mode's function, if it has one.
                let reals: Vec<f64> = args.iter().map(|a| a.re).collect();
                super::expr::call_real(name, &reals, at).map(Complex64::from)
            }
            _ => Err(unsupported(self.name(), name, at)),
        }
    }

    fn wrap(&self, value: Complex64) -> Exact {
        Exact::Complex(value)
    }
}

/// An exact decimal literal (`0.1`, `1.5e-3`) as a fraction; other f64 values exactly.
fn rational_of(value: f64, text: Option<&str>) -> Result<BigRational, MathError> {
    let text = text.map_or_else(|| format!("{value}"), str::to_owned);
    let decimal =
        BigDecimal::from_str(&text).map_err(|_| invalid(format!("`{text}` has no exact value")))?;
    let (digits, scale) = decimal.as_bigint_and_exponent();
    if scale.unsigned_abs() > MAX_FRACTION_DIGITS {
        return Err(MathError::TooComplex(format!(
            "`{text}` is too large for a fraction"
        )));
    }
    let ten = BigInt::from(10);
    Ok(if scale >= 0 {
        BigRational::new(digits, num_traits::pow(ten, scale as usize))
    } else {
        BigRational::from_integer(digits * num_traits::pow(ten, (-scale) as usize))
    })
}

fn check_size(r: &BigRational) -> Result<(), MathError> {
    if r.numer().bits() + r.denom().bits() > MAX_FRACTION_DIGITS * 10 / 3 {
        return Err(MathError::TooComplex(
            "a fraction grew past 100,000 digits".into(),
        ));
    }
    Ok(())
}

fn whole_exponent(r: &BigRational, what: &str) -> Result<i64, MathError> {
    if !r.is_integer() {
        return Err(invalid(format!(
            "{what} needs a whole exponent for exact results"
        )));
    }
    r.to_integer()
        .to_i64()
        .filter(|n| n.abs() <= MAX_EXACT_EXPONENT)
        .ok_or_else(|| {
            MathError::TooComplex(format!(
                "exponents beyond ±{MAX_EXACT_EXPONENT} are too large"
            ))
        })
}

struct Fractions;

impl System for Fractions {
    type Value = BigRational;

    fn name(&self) -> &'static str {
        "fractions"
    }

    fn literal(&self, value: f64, text: Option<&str>) -> Result<BigRational, MathError> {
        if !value.is_finite() {
            return Err(invalid("fractions are finite"));
        }
        rational_of(value, text)
    }

    fn constant(&self, name: &str) -> Option<BigRational> {
        match name {
            "true" => Some(BigRational::one()),
            "false" => Some(BigRational::zero()),
            _ => None,
        }
    }

    fn negate(&self, value: BigRational) -> BigRational {
        -value
    }

    fn binary(&self, op: &str, a: BigRational, b: BigRational) -> Result<BigRational, MathError> {
        if let Some(truth) = comparison(op, &a, &b) {
            return Ok(truth);
        }
        let value = match op {
            "+" => a + b,
            "-" => a - b,
            "*" => a * b,
            "/" => {
                nonzero(&b)?;
                a / b
            }
            "%" => {
                nonzero(&b)?;
                let quotient = (&a / &b).floor();
                a - b * quotient
            }
            "^" => {
                let n = whole_exponent(&b, "`^`")?;
                if n < 0 && a.is_zero() {
                    return Err(invalid("division by zero"));
                }
                num_traits::pow::Pow::pow(&a, n as i32)
            }
            other => unreachable!("the parser makes no `{other}`"),
        };
        check_size(&value)?;
        Ok(value)
    }

    fn call(
        &self,
        name: &str,
        args: Vec<BigRational>,
        at: usize,
    ) -> Result<BigRational, MathError> {
        let one = |args: Vec<BigRational>| arity(name, args, 1, at).map(|mut a| a.remove(0));
        Ok(match name {
            "abs" => one(args)?.abs(),
            "floor" => one(args)?.floor(),
            "ceil" => one(args)?.ceil(),
            "fix" => one(args)?.trunc(),
            "round" => match args.len() {
                1 => one(args)?.round(),
                2 => {
                    let digits = whole_exponent(&args[1], "`round`")?;
                    let scale = num_traits::pow::Pow::pow(
                        &BigRational::from_integer(10.into()),
                        digits as i32,
                    );
                    (&args[0] * &scale).round() / scale
                }
                n => return Err(invalid(format!("`round` takes 1 or 2 arguments, got {n}"))),
            },
            "sign" => BigRational::from_integer(one(args)?.signum().to_integer()),
            "square" => {
                let x = one(args)?;
                &x * &x
            }
            "cube" => {
                let x = one(args)?;
                &x * &x * &x
            }
            "pow" => {
                let args = arity(name, args, 2, at)?;
                self.binary("^", args[0].clone(), args[1].clone())?
            }
            "min" | "max" if !args.is_empty() => {
                let mut values = args.into_iter();
                let first = values.next().unwrap_or_else(BigRational::zero);
                values.fold(first, |best, v| {
                    if (name == "min") == (v < best) {
                        v
                    } else {
                        best
                    }
                })
            }
            "numerator" => BigRational::from_integer(one(args)?.numer().clone()),
            "denominator" => BigRational::from_integer(one(args)?.denom().clone()),
            "factorial" => {
                let n = whole_exponent(&one(args)?, "factorial")?;
                if n < 0 {
                    return Err(invalid("factorial needs a non-negative integer"));
                }
                if n > 5_000 {
                    return Err(MathError::TooComplex(
                        "factorials past 5000! are too large".into(),
                    ));
                }
                BigRational::from_integer((1..=n).fold(BigInt::one(), |acc, k| acc * k))
            }
            "sum" => args.into_iter().fold(BigRational::zero(), |a, b| a + b),
            "mean" if !args.is_empty() => {
                let n = args.len();
                args.into_iter().fold(BigRational::zero(), |a, b| a + b)
                    / BigRational::from_integer(n.into())
            }
            _ => return Err(unsupported(self.name(), name, at)),
        })
    }

    fn wrap(&self, value: BigRational) -> Exact {
        Exact::Fraction(value)
    }
}

struct Decimals {
    context: Context,
}

impl Decimals {
    fn round(&self, value: BigDecimal) -> BigDecimal {
        value.with_precision_round(self.context.precision(), RoundingMode::HalfEven)
    }
}

impl System for Decimals {
    type Value = BigDecimal;

    fn name(&self) -> &'static str {
        "big numbers"
    }

    fn literal(&self, value: f64, text: Option<&str>) -> Result<BigDecimal, MathError> {
        if !value.is_finite() {
            return Err(invalid("big numbers are finite"));
        }
        let text = text.map_or_else(|| format!("{value}"), str::to_owned);
        BigDecimal::from_str(&text)
            .map(|d| self.round(d))
            .map_err(|_| invalid(format!("`{text}` is not a number")))
    }

    fn constant(&self, name: &str) -> Option<BigDecimal> {
        let digits = |text: &str| BigDecimal::from_str(text).ok().map(|d| self.round(d));
        match name {
            // 110 digits: enough for the default precisions; beyond, these two are the limit.
            "pi" | "PI" => digits(
                "3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706798214808651",
            ),
            "e" | "E" => Some(self.round(BigDecimal::one().exp_with_context(&self.context))),
            "true" => Some(BigDecimal::one()),
            "false" => Some(BigDecimal::zero()),
            _ => None,
        }
    }

    fn negate(&self, value: BigDecimal) -> BigDecimal {
        -value
    }

    fn binary(&self, op: &str, a: BigDecimal, b: BigDecimal) -> Result<BigDecimal, MathError> {
        if let Some(truth) = comparison(op, &a, &b) {
            return Ok(truth);
        }
        Ok(match op {
            "+" => self.round(a + b),
            "-" => self.round(a - b),
            "*" => self.round(a * b),
            "/" => {
                nonzero(&b)?;
                self.round(
                    self.context
                        .multiply(&a, &b.inverse_with_context(&self.context)),
                )
            }
            "%" => {
                nonzero(&b)?;
                let quotient = (&a / &b).with_scale_round(0, RoundingMode::Floor);
                self.round(a - b * quotient)
            }
            "^" => {
                if !b.is_integer() {
                    return Err(invalid("big numbers need a whole exponent"));
                }
                let n = b
                    .to_i64()
                    .filter(|n| n.abs() <= MAX_EXACT_EXPONENT)
                    .ok_or_else(|| {
                        MathError::TooComplex(format!(
                            "exponents beyond ±{MAX_EXACT_EXPONENT} are too large"
                        ))
                    })?;
                if n < 0 && a.is_zero() {
                    return Err(invalid("division by zero"));
                }
                self.round(a.powi_with_context(n, &self.context))
            }
            other => unreachable!("the parser makes no `{other}`"),
        })
    }

    fn call(&self, name: &str, args: Vec<BigDecimal>, at: usize) -> Result<BigDecimal, MathError> {
        let one = |args: Vec<BigDecimal>| arity(name, args, 1, at).map(|mut a| a.remove(0));
        Ok(match name {
            "abs" => one(args)?.abs(),
            "floor" => one(args)?.with_scale_round(0, RoundingMode::Floor),
            "ceil" => one(args)?.with_scale_round(0, RoundingMode::Ceiling),
            "fix" => one(args)?.with_scale_round(0, RoundingMode::Down),
            "round" => match args.len() {
                1 => one(args)?.with_scale_round(0, RoundingMode::HalfUp),
                2 => {
                    let digits = args[1]
                        .to_i64()
                        .filter(|d| args[1].is_integer() && d.abs() <= MAX_PRECISION as i64)
                        .ok_or_else(|| invalid("`round` needs a whole number of digits"))?;
                    args[0].with_scale_round(digits, RoundingMode::HalfUp)
                }
                n => return Err(invalid(format!("`round` takes 1 or 2 arguments, got {n}"))),
            },
            "sqrt" => {
                let x = one(args)?;
                if x.is_negative() {
                    return Err(invalid(
                        "sqrt of a negative big number (use the default mode for complex results)",
                    ));
                }
                self.round(x.sqrt_with_context(&self.context).unwrap_or_default())
            }
            "cbrt" => self.round(one(args)?.cbrt_with_context(&self.context)),
            "exp" => {
                let x = one(args)?;
                if x.abs() > 100_000 {
                    return Err(MathError::TooComplex("exp of a number that large".into()));
                }
                self.round(x.exp_with_context(&self.context))
            }
            "square" => {
                let x = one(args)?;
                self.round(&x * &x)
            }
            "cube" => {
                let x = one(args)?;
                self.round(&x * &x * &x)
            }
            "pow" => {
                let args = arity(name, args, 2, at)?;
                self.binary("^", args[0].clone(), args[1].clone())?
            }
            "sign" => BigDecimal::from(one(args)?.sign() as i32),
            "min" | "max" if !args.is_empty() => {
                let mut values = args.into_iter();
                let first = values.next().unwrap_or_default();
                values.fold(first, |best, v| {
                    if (name == "min") == (v < best) {
                        v
                    } else {
                        best
                    }
                })
            }
            "sum" => self.round(args.into_iter().fold(BigDecimal::zero(), |a, b| a + b)),
            "mean" if !args.is_empty() => {
                let n = BigDecimal::from(args.len() as u64);
                let sum = args.into_iter().fold(BigDecimal::zero(), |a, b| a + b);
                self.binary("/", sum, n)?
            }
            "factorial" => {
                let n = one(args)?;
                let k = n
                    .to_i64()
                    .filter(|k| n.is_integer() && *k >= 0)
                    .ok_or_else(|| invalid("factorial needs a non-negative integer"))?;
                if k > 5_000 {
                    return Err(MathError::TooComplex(
                        "factorials past 5000! are too large".into(),
                    ));
                }
                self.round(BigDecimal::from(
                    (1..=k).fold(BigInt::one(), |acc, i| acc * i),
                ))
            }
            _ => return Err(unsupported(self.name(), name, at)),
        })
    }

    fn wrap(&self, value: BigDecimal) -> Exact {
        Exact::Decimal(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::expr::{self, ExprLimits, ModeEvaluation, NumberMode};

    fn exact(text: &str, mode: NumberMode) -> Exact {
        let program = expr::parse(text, ExprLimits::default()).unwrap();
        match expr::evaluate_in_mode(&program, &BTreeMap::new(), mode).unwrap() {
            ModeEvaluation::Exact(e) => e.value,
            ModeEvaluation::Real(r) => panic!("{text}: real {:?}", r.value),
        }
    }

    fn shown(text: &str, mode: NumberMode) -> String {
        exact(text, mode).formatted(14)
    }

    fn error(text: &str, mode: NumberMode) -> MathError {
        let program = expr::parse(text, ExprLimits::default()).unwrap();
        expr::evaluate_in_mode(&program, &BTreeMap::new(), mode).unwrap_err()
    }

    #[test]
    fn complex_numbers_when_the_expression_needs_them() {
        let number = NumberMode::Number;
        assert_eq!(shown("sqrt(-4)", number), "2i");
        assert_eq!(shown("(2 + 3i) * (1 - i)", number), "5 + i");
        assert_eq!(shown("(1 + 2i) / (3 - 4i)", number), "-0.2 + 0.4i");
        assert_eq!(shown("abs(3 + 4i)", number), "5");
        assert_eq!(shown("conj(2 - 5i)", number), "2 + 5i");
        // Euler: e^(i pi) = -1 (with the usual rounding in the imaginary part).
        match exact("e^(i*pi)", number) {
            Exact::Complex(c) => {
                assert!((c.re + 1.0).abs() < 1e-15 && c.im.abs() < 1e-15, "{c}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(shown("i^2", number), "-1");
        // A real answer stays real, and an assigned `i` is just a variable.
        let program = expr::parse("i = 2; i * 3", ExprLimits::default()).unwrap();
        assert!(matches!(
            expr::evaluate_in_mode(&program, &BTreeMap::new(), number).unwrap(),
            ModeEvaluation::Real(_)
        ));
        assert!(matches!(
            error("(1 + i) < 2", number),
            MathError::Invalid { .. }
        ));
    }

    #[test]
    fn fractions_are_exact() {
        let fraction = NumberMode::Fraction;
        assert_eq!(shown("1/3 + 1/6", fraction), "1/2");
        assert_eq!(shown("0.1 + 0.2", fraction), "3/10");
        assert_eq!(shown("(2/3)^-2", fraction), "9/4");
        assert_eq!(shown("round(22/7, 2)", fraction), "157/50");
        assert_eq!(shown("25!", fraction), "15511210043330985984000000");
        assert_eq!(shown("numerator(6/8) + denominator(6/8)", fraction), "7");
        assert_eq!(exact("1/4", fraction).approx(), Some(0.25));
        assert!(matches!(error("1/0", fraction), MathError::Invalid { .. }));
        assert!(matches!(
            error("sqrt(2)", fraction),
            MathError::Invalid { .. }
        ));
        assert!(matches!(
            error("2^(1/2)", fraction),
            MathError::Invalid { .. }
        ));
        assert!(matches!(
            error("2^100000", fraction),
            MathError::TooComplex(_)
        ));
        assert!(matches!(error("5 cm", fraction), MathError::Invalid { .. }));
    }

    #[test]
    fn big_numbers_to_the_digits_asked() {
        let big = NumberMode::BigNumber(64);
        assert_eq!(shown("0.1 + 0.2", big), "0.3");
        assert_eq!(
            shown("1/3", big),
            "0.3333333333333333333333333333333333333333333333333333333333333333"
        );
        assert_eq!(shown("2^100", big), "1267650600228229401496703205376");
        assert_eq!(
            shown("123456789012345678901234567890 + 1", big),
            "123456789012345678901234567891"
        );
        assert_eq!(
            shown("sqrt(2)", NumberMode::BigNumber(40)),
            "1.41421356237309504880168872420969807857",
            "40 digits, the trailing zero dropped"
        );
        assert_eq!(
            shown("pi", NumberMode::BigNumber(30)),
            "3.14159265358979323846264338328"
        );
        assert_eq!(shown("round(2.675, 2)", big), "2.68");
        assert!(matches!(error("1/0", big), MathError::Invalid { .. }));
        assert!(matches!(error("sqrt(-1)", big), MathError::Invalid { .. }));
    }
}
