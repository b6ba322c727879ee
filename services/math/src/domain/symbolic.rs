//! Calculus on expression trees: symbolic derivatives, rule-based simplification, roots of
//! equations in one variable (all roots of polynomials, sign-change roots otherwise) and definite
//! integrals (adaptive Simpson; the antiderivative too for polynomials).

use std::collections::BTreeMap;

use super::expr::{self, ExprLimits, Node, eval_number};
use super::{MathError, Result};

fn parse_one(text: &str, field: &str) -> Result<Node> {
    let program = expr::parse(text, ExprLimits::default())?;
    program
        .single_expression()
        .map(without_positions)
        .ok_or_else(|| MathError::invalid(field, "must be one expression (no assignments or `;`)"))
}

/// The tree with every source position set to 0, so equal subtrees compare equal.
fn without_positions(node: &Node) -> Node {
    match node {
        Node::Number(v) => Node::Number(*v),
        Node::Variable(name, _) => Node::Variable(name.clone(), 0),
        Node::Unary(op, a) => Node::Unary(op, Box::new(without_positions(a))),
        Node::Binary(op, a, b) => Node::Binary(
            op,
            Box::new(without_positions(a)),
            Box::new(without_positions(b)),
        ),
        Node::Factorial(a, _) => Node::Factorial(Box::new(without_positions(a)), 0),
        Node::Call(name, args, _) => Node::Call(
            name.clone(),
            args.iter().map(without_positions).collect(),
            0,
        ),
        Node::Convert(a, b, _) => Node::Convert(
            Box::new(without_positions(a)),
            Box::new(without_positions(b)),
            0,
        ),
    }
}

fn num(v: f64) -> Node {
    Node::Number(v)
}

fn bin(op: &'static str, a: Node, b: Node) -> Node {
    Node::Binary(op, Box::new(a), Box::new(b))
}

fn call(name: &str, args: Vec<Node>) -> Node {
    Node::Call(name.to_owned(), args, 0)
}

fn neg(a: Node) -> Node {
    Node::Unary("-", Box::new(a))
}

/// Nodes in the tree: evaluation work per point.
fn size(node: &Node) -> usize {
    1 + match node {
        Node::Number(_) | Node::Variable(..) => 0,
        Node::Unary(_, a) | Node::Factorial(a, _) => size(a),
        Node::Binary(_, a, b) | Node::Convert(a, b, _) => size(a) + size(b),
        Node::Call(_, args, _) => args.iter().map(size).sum(),
    }
}

/// Node evaluations one `solve` or `integrate` may spend (a few hundred milliseconds).
const WORK_BUDGET: usize = 40_000_000;

fn mentions(node: &Node, x: &str) -> bool {
    match node {
        Node::Number(_) => false,
        Node::Variable(name, _) => name == x,
        Node::Unary(_, a) | Node::Factorial(a, _) => mentions(a, x),
        Node::Binary(_, a, b) | Node::Convert(a, b, _) => mentions(a, x) || mentions(b, x),
        Node::Call(_, args, _) => args.iter().any(|a| mentions(a, x)),
    }
}

/// d/dx of `node`, unsimplified.
fn differentiate(node: &Node, x: &str) -> Result<Node> {
    Ok(match node {
        Node::Number(_) => num(0.0),
        Node::Variable(name, _) => num(if name == x { 1.0 } else { 0.0 }),
        Node::Unary(op, a) => {
            let da = differentiate(a, x)?;
            if *op == "-" { neg(da) } else { da }
        }
        Node::Binary(op, a, b) => {
            let (da, db) = (differentiate(a, x)?, differentiate(b, x)?);
            let (a, b) = ((**a).clone(), (**b).clone());
            match *op {
                "+" | "-" => bin(op, da, db),
                "*" => bin("+", bin("*", da, b.clone()), bin("*", a, db)),
                "/" => bin(
                    "/",
                    bin("-", bin("*", da, b.clone()), bin("*", a, db)),
                    bin("^", b, num(2.0)),
                ),
                "^" if !mentions(&b, x) => bin(
                    "*",
                    bin("*", b.clone(), bin("^", a, bin("-", b, num(1.0)))),
                    da,
                ),
                "^" if !mentions(&a, x) => bin(
                    "*",
                    bin("*", bin("^", a.clone(), b), call("ln", vec![a])),
                    db,
                ),
                "^" => bin(
                    "*",
                    bin("^", a.clone(), b.clone()),
                    bin(
                        "+",
                        bin("*", db, call("ln", vec![a.clone()])),
                        bin("/", bin("*", b, da), a),
                    ),
                ),
                other => {
                    return Err(MathError::invalid(
                        "expression",
                        format!("cannot differentiate `{other}`"),
                    ));
                }
            }
        }
        Node::Call(name, args, _) => {
            let [u] = args.as_slice() else {
                return match (name.as_str(), args.as_slice()) {
                    ("log", [u, base]) if !mentions(base, x) => Ok(bin(
                        "/",
                        differentiate(u, x)?,
                        bin("*", u.clone(), call("ln", vec![base.clone()])),
                    )),
                    _ => Err(MathError::invalid(
                        "expression",
                        format!("cannot differentiate `{name}` with these arguments"),
                    )),
                };
            };
            let du = differentiate(u, x)?;
            let u = u.clone();
            let outer = match name.as_str() {
                "sin" => call("cos", vec![u]),
                "cos" => neg(call("sin", vec![u])),
                "tan" => bin("/", num(1.0), bin("^", call("cos", vec![u]), num(2.0))),
                "exp" => call("exp", vec![u]),
                "ln" | "log" => bin("/", num(1.0), u),
                "log10" => bin("/", num(1.0), bin("*", u, call("ln", vec![num(10.0)]))),
                "log2" => bin("/", num(1.0), bin("*", u, call("ln", vec![num(2.0)]))),
                "sqrt" => bin("/", num(1.0), bin("*", num(2.0), call("sqrt", vec![u]))),
                "cbrt" => bin(
                    "/",
                    num(1.0),
                    bin("*", num(3.0), bin("^", call("cbrt", vec![u]), num(2.0))),
                ),
                "abs" => bin("/", u.clone(), call("abs", vec![u])),
                "asin" => bin(
                    "/",
                    num(1.0),
                    call("sqrt", vec![bin("-", num(1.0), bin("^", u, num(2.0)))]),
                ),
                "acos" => neg(bin(
                    "/",
                    num(1.0),
                    call("sqrt", vec![bin("-", num(1.0), bin("^", u, num(2.0)))]),
                )),
                "atan" => bin("/", num(1.0), bin("+", num(1.0), bin("^", u, num(2.0)))),
                "sinh" => call("cosh", vec![u]),
                "cosh" => call("sinh", vec![u]),
                "tanh" => bin("-", num(1.0), bin("^", call("tanh", vec![u]), num(2.0))),
                other => {
                    return Err(MathError::invalid(
                        "expression",
                        format!("cannot differentiate `{other}`"),
                    ));
                }
            };
            bin("*", outer, du)
        }
        Node::Factorial(..) | Node::Convert(..) => {
            return Err(MathError::invalid(
                "expression",
                "cannot differentiate factorials or unit conversions",
            ));
        }
    })
}

/// One bottom-up pass of the simplification rules.
fn simplify_once(node: &Node) -> Node {
    match node {
        Node::Unary(op, a) => {
            let a = simplify_once(a);
            match (*op, a) {
                ("+", a) => a,
                (_, Node::Number(v)) => num(-v),
                (_, Node::Unary("-", inner)) => *inner,
                (_, a) => neg(a),
            }
        }
        Node::Binary(op, a, b) => {
            let (a, b) = (simplify_once(a), simplify_once(b));
            simplify_binary(op, a, b)
        }
        Node::Call(name, args, at) => {
            let args: Vec<Node> = args.iter().map(simplify_once).collect();
            // Fold only exact results (ln(1) = 0, sqrt(16) = 4), keeping sin(1) symbolic.
            if args.iter().all(|a| matches!(a, Node::Number(_))) {
                let folded = eval_number(
                    &Node::Call(name.clone(), args.clone(), *at),
                    &BTreeMap::new(),
                );
                if let Ok(v) = folded
                    && v.is_finite()
                    && v.fract() == 0.0
                {
                    return num(v);
                }
            }
            Node::Call(name.clone(), args, *at)
        }
        other => other.clone(),
    }
}

fn simplify_binary(op: &'static str, a: Node, b: Node) -> Node {
    use Node::Number as N;
    match (op, &a, &b) {
        (_, N(x), N(y)) => {
            let folded = eval_number(&bin(op, N(*x), N(*y)), &BTreeMap::new()).unwrap_or(f64::NAN);
            if folded.is_finite() {
                return num(folded);
            }
            bin(op, a, b)
        }
        ("+", N(z), _) if *z == 0.0 => b,
        ("+" | "-", _, N(z)) if *z == 0.0 => a,
        ("-", N(z), _) if *z == 0.0 => neg(b),
        ("-", _, _) if a == b => num(0.0),
        ("+", _, _) if a == b => bin("*", num(2.0), a),
        ("*", N(z), _) | ("*", _, N(z)) if *z == 0.0 => num(0.0),
        ("*", N(one), _) if *one == 1.0 => b,
        ("*", _, N(one)) if *one == 1.0 => a,
        // Numbers first, and numbers multiplied together: 2 * (3 * x) = 6 * x.
        ("*", _, N(_)) => simplify_binary("*", b, a),
        ("*", N(x), Node::Binary("*", inner_a, inner_b)) if matches!(**inner_a, N(_)) => {
            let N(y) = **inner_a else {
                unreachable!("matched above")
            };
            bin("*", num(x * y), (**inner_b).clone())
        }
        ("*", _, _) if a == b => bin("^", a, num(2.0)),
        ("/", N(z), _) if *z == 0.0 => num(0.0),
        ("/", _, N(one)) if *one == 1.0 => a,
        ("/", _, _) if a == b => num(1.0),
        ("^", _, N(z)) if *z == 0.0 => num(1.0),
        ("^", _, N(one)) if *one == 1.0 => a,
        ("^", N(one), _) if *one == 1.0 => num(1.0),
        // (x^a)^b = x^(a·b) for numbers a, b.
        ("^", Node::Binary("^", base, inner), N(outer)) if matches!(**inner, N(_)) => {
            let N(inner) = **inner else {
                unreachable!("matched above")
            };
            bin("^", (**base).clone(), num(inner * outer))
        }
        _ => bin(op, a, b),
    }
}

/// Applies the rules until nothing changes (at most 20 passes).
fn simplify_node(node: &Node) -> Node {
    let mut current = node.clone();
    for _ in 0..20 {
        let next = simplify_once(&current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

fn precedence(node: &Node) -> u8 {
    match node {
        Node::Binary("+" | "-", ..) => 1,
        Node::Binary("*" | "/" | "%", ..) => 2,
        Node::Unary(..) => 3,
        Node::Number(v) if *v < 0.0 => 3,
        Node::Binary("^", ..) => 4,
        Node::Binary(..) => 0,
        _ => 5,
    }
}

/// Prints `node` in the notation `evaluate` reads, with the parentheses it needs.
pub(crate) fn render(node: &Node) -> String {
    match node {
        Node::Number(v) => format!("{}", if *v == 0.0 { 0.0 } else { *v }),
        Node::Variable(name, _) => name.clone(),
        Node::Unary(op, a) => {
            let inner = render(a);
            if precedence(a) < 4 {
                format!("{op}({inner})")
            } else {
                format!("{op}{inner}")
            }
        }
        Node::Binary(op, a, b) => {
            let own = precedence(node);
            let left = if precedence(a) < own || (*op == "^" && precedence(a) <= own) {
                format!("({})", render(a))
            } else {
                render(a)
            };
            let tighter_right = matches!(*op, "-" | "/" | "%");
            let right = if precedence(b) < own || (tighter_right && precedence(b) == own) {
                format!("({})", render(b))
            } else {
                render(b)
            };
            format!("{left} {op} {right}")
        }
        Node::Factorial(a, _) => format!("({})!", render(a)),
        Node::Call(name, args, _) => {
            let args: Vec<String> = args.iter().map(render).collect();
            format!("{name}({})", args.join(", "))
        }
        Node::Convert(a, b, _) => format!("{} to {}", render(a), render(b)),
    }
}

fn check_variable(variable: &str) -> Result<()> {
    let mut chars = variable.chars();
    if chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
    {
        Ok(())
    } else {
        Err(MathError::invalid("variable", "must be a name like `x`"))
    }
}

/// The derivative of `text` with respect to `variable`, simplified.
pub fn derivative(text: &str, variable: &str) -> Result<String> {
    check_variable(variable)?;
    let node = parse_one(text, "expression")?;
    Ok(render(&simplify_node(&differentiate(&node, variable)?)))
}

/// `text` with constants folded and algebraic identities applied.
pub fn simplify(text: &str) -> Result<String> {
    Ok(render(&simplify_node(&parse_one(text, "expression")?)))
}

/// Evaluates `text` at `variable = at`.
pub fn evaluate_at(text: &str, variable: &str, at: f64) -> Result<f64> {
    let node = parse_one(text, "expression")?;
    eval_number(&node, &BTreeMap::from([(variable.to_owned(), at)]))
}

/// Coefficients (constant first) if `node` is a polynomial in `x` of degree at most `MAX_DEGREE`.
fn polynomial(node: &Node, x: &str) -> Option<Vec<f64>> {
    const MAX_DEGREE: usize = 20;
    fn add(a: &[f64], b: &[f64], sign: f64) -> Vec<f64> {
        (0..a.len().max(b.len()))
            .map(|i| a.get(i).copied().unwrap_or(0.0) + sign * b.get(i).copied().unwrap_or(0.0))
            .collect()
    }
    fn multiply(a: &[f64], b: &[f64]) -> Option<Vec<f64>> {
        if a.len() + b.len() - 1 > MAX_DEGREE + 1 {
            return None;
        }
        let mut out = vec![0.0; a.len() + b.len() - 1];
        for (i, x) in a.iter().enumerate() {
            for (j, y) in b.iter().enumerate() {
                out[i + j] += x * y;
            }
        }
        Some(out)
    }
    match node {
        Node::Number(v) => Some(vec![*v]),
        Node::Variable(name, _) if name == x => Some(vec![0.0, 1.0]),
        Node::Variable(..) if !mentions(node, x) => {
            eval_number(node, &BTreeMap::new()).ok().map(|v| vec![v])
        }
        Node::Unary(op, a) => {
            let p = polynomial(a, x)?;
            Some(if *op == "-" {
                p.iter().map(|c| -c).collect()
            } else {
                p
            })
        }
        Node::Binary(op, a, b) => {
            let pa = polynomial(a, x)?;
            match *op {
                "+" => Some(add(&pa, &polynomial(b, x)?, 1.0)),
                "-" => Some(add(&pa, &polynomial(b, x)?, -1.0)),
                "*" => multiply(&pa, &polynomial(b, x)?),
                "/" if !mentions(b, x) => {
                    let d = eval_number(b, &BTreeMap::new()).ok()?;
                    Some(pa.iter().map(|c| c / d).collect())
                }
                "^" if !mentions(b, x) => {
                    let n = eval_number(b, &BTreeMap::new()).ok()?;
                    if n.fract() != 0.0 || !(0.0..=MAX_DEGREE as f64).contains(&n) {
                        return None;
                    }
                    (0..n as usize).try_fold(vec![1.0], |acc, _| multiply(&acc, &pa))
                }
                _ => None,
            }
        }
        Node::Call(..) if !mentions(node, x) => {
            eval_number(node, &BTreeMap::new()).ok().map(|v| vec![v])
        }
        _ => None,
    }
}

fn trim(mut coefficients: Vec<f64>) -> Vec<f64> {
    while coefficients.len() > 1 && coefficients.last().is_some_and(|c| c.abs() < 1e-300) {
        coefficients.pop();
    }
    coefficients
}

/// A root: real, or complex as `re ± im i`.
#[derive(Debug, Clone, PartialEq)]
pub struct Root {
    pub re: f64,
    pub im: f64,
}

/// How the roots were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolveMethod {
    /// Every root of a polynomial (closed form to degree 2, eigenvalues above).
    Polynomial,
    /// Real roots where the function changes sign in the interval.
    Numeric,
}

/// Roots of `equation` (`lhs = rhs`, or an expression equal to 0) in `variable`.
pub fn solve(
    equation: &str,
    variable: &str,
    interval: (f64, f64),
) -> Result<(Vec<Root>, SolveMethod)> {
    check_variable(variable)?;
    let (lhs, rhs) = split_equation(equation)?;
    let f = bin(
        "-",
        parse_one(lhs, "equation")?,
        parse_one(rhs, "equation")?,
    );
    if let Some(coefficients) = polynomial(&f, variable).map(trim) {
        return polynomial_roots(&coefficients).map(|r| (r, SolveMethod::Polynomial));
    }
    let (from, to) = interval;
    if !(from.is_finite() && to.is_finite() && from < to) {
        return Err(MathError::invalid(
            "from",
            "the interval needs finite from < to",
        ));
    }
    let value = |x: f64| eval_number(&f, &BTreeMap::from([(variable.to_owned(), x)]));
    // Finer scans for small expressions; a large one gets fewer points within the same budget.
    let steps = (WORK_BUDGET / 110 / size(&f)).clamp(200, 20_000);
    let width = (to - from) / steps as f64;
    let mut roots: Vec<f64> = Vec::new();
    let mut previous = (from, value(from)?);
    for i in 1..=steps {
        let x = from + width * i as f64;
        let y = value(x)?;
        let (px, py) = previous;
        if py == 0.0 {
            roots.push(px);
        } else if py.is_finite() && y.is_finite() && py.signum() != y.signum() && y != 0.0 {
            // Bisection; a pole (tan at π/2) also changes sign, so the value must shrink.
            let (mut low, mut high) = (px, x);
            for _ in 0..100 {
                let middle = (low + high) / 2.0;
                if value(middle)?.signum() == py.signum() {
                    low = middle;
                } else {
                    high = middle;
                }
            }
            let root = (low + high) / 2.0;
            if value(root)?.abs() < 1e-6 * (1.0 + py.abs().min(y.abs())) {
                roots.push(root);
            }
        }
        previous = (x, y);
    }
    if previous.1 == 0.0 {
        roots.push(previous.0);
    }
    roots.dedup_by(|a, b| (*a - *b).abs() < width);
    Ok((
        roots
            .into_iter()
            .map(|re| Root {
                re: clean(re),
                im: 0.0,
            })
            .collect(),
        SolveMethod::Numeric,
    ))
}

fn clean(v: f64) -> f64 {
    let rounded = (v * 1e12).round() / 1e12;
    if (v - rounded).abs() < 1e-12 * v.abs().max(1.0) && rounded == 0.0 {
        0.0
    } else {
        v
    }
}

fn split_equation(equation: &str) -> Result<(&str, &str)> {
    let bytes = equation.as_bytes();
    let positions: Vec<usize> = (0..bytes.len())
        .filter(|&i| {
            bytes[i] == b'='
                && !matches!(bytes.get(i + 1), Some(b'='))
                && !matches!(
                    i.checked_sub(1).map(|j| bytes[j]),
                    Some(b'=' | b'<' | b'>' | b'!')
                )
        })
        .collect();
    match positions.as_slice() {
        [] => Ok((equation, "0")),
        [i] => Ok((&equation[..*i], &equation[i + 1..])),
        _ => Err(MathError::invalid("equation", "has more than one `=`")),
    }
}

fn polynomial_roots(coefficients: &[f64]) -> Result<Vec<Root>> {
    let degree = coefficients.len() - 1;
    let lead = coefficients[degree];
    match degree {
        0 => Err(MathError::invalid(
            "equation",
            if lead == 0.0 {
                "holds for every value"
            } else {
                "has no solution"
            },
        )),
        1 => Ok(vec![Root {
            re: clean(-coefficients[0] / lead),
            im: 0.0,
        }]),
        2 => {
            let (a, b, c) = (lead, coefficients[1], coefficients[0]);
            let discriminant = b * b - 4.0 * a * c;
            let mut roots = if discriminant >= 0.0 {
                // The stable form: no cancellation between -b and the square root.
                let q = -0.5 * (b + b.signum().max(0.0).mul_add(2.0, -1.0) * discriminant.sqrt());
                let q = if q == 0.0 {
                    -0.5 * (b - discriminant.sqrt())
                } else {
                    q
                };
                let first = q / a;
                let second = if q == 0.0 { first } else { c / q };
                vec![
                    Root {
                        re: clean(first),
                        im: 0.0,
                    },
                    Root {
                        re: clean(second),
                        im: 0.0,
                    },
                ]
            } else {
                let re = -b / (2.0 * a);
                let im = (-discriminant).sqrt() / (2.0 * a);
                vec![
                    Root {
                        re: clean(re),
                        im: -im.abs(),
                    },
                    Root {
                        re: clean(re),
                        im: im.abs(),
                    },
                ]
            };
            roots.sort_by(|x, y| x.re.total_cmp(&y.re).then(x.im.total_cmp(&y.im)));
            Ok(roots)
        }
        _ => {
            // Eigenvalues of the companion matrix.
            let companion = nalgebra::DMatrix::from_fn(degree, degree, |i, j| {
                if i == 0 {
                    -coefficients[degree - 1 - j] / lead
                } else if i == j + 1 {
                    1.0
                } else {
                    0.0
                }
            });
            let mut roots: Vec<Root> = companion
                .complex_eigenvalues()
                .iter()
                .map(|z| Root {
                    re: clean(z.re),
                    im: if z.im.abs() < 1e-10 { 0.0 } else { z.im },
                })
                .collect();
            roots.sort_by(|x, y| x.re.total_cmp(&y.re).then(x.im.total_cmp(&y.im)));
            Ok(roots)
        }
    }
}

/// A definite integral.
#[derive(Debug, Clone, PartialEq)]
pub struct Integral {
    pub value: f64,
    /// For polynomials: an antiderivative (constant of integration 0).
    pub antiderivative: Option<String>,
}

/// ∫ `text` d`variable` from `from` to `to`.
pub fn integrate(text: &str, variable: &str, from: f64, to: f64) -> Result<Integral> {
    check_variable(variable)?;
    if !(from.is_finite() && to.is_finite()) {
        return Err(MathError::invalid("from", "the bounds must be finite"));
    }
    let node = parse_one(text, "expression")?;
    if let Some(coefficients) = polynomial(&node, variable).map(trim) {
        let antiderivative: Vec<f64> = std::iter::once(0.0)
            .chain(
                coefficients
                    .iter()
                    .enumerate()
                    .map(|(i, c)| c / (i + 1) as f64),
            )
            .collect();
        let at = |x: f64| antiderivative.iter().rev().fold(0.0, |acc, c| acc * x + c);
        return Ok(Integral {
            value: at(to) - at(from),
            antiderivative: Some(render_polynomial(&antiderivative, variable)),
        });
    }
    let f = |x: f64| eval_number(&node, &BTreeMap::from([(variable.to_owned(), x)]));
    let (a, b) = (from, to);
    let (fa, fm, fb) = (f(a)?, f((a + b) / 2.0)?, f(b)?);
    let whole = (b - a) / 6.0 * (fa + 4.0 * fm + fb);
    let mut budget = Budget {
        used: 0,
        limit: WORK_BUDGET / size(&node),
    };
    let value = simpson(&f, a, b, fa, fm, fb, whole, 1e-12, 50, &mut budget)?;
    if !value.is_finite() {
        return Err(MathError::NoConvergence(
            "the integral does not converge on this interval".into(),
        ));
    }
    Ok(Integral {
        value,
        antiderivative: None,
    })
}

/// Function evaluations spent and allowed.
struct Budget {
    used: usize,
    limit: usize,
}

#[allow(clippy::too_many_arguments, reason = "the recursion carries its state")]
fn simpson(
    f: &dyn Fn(f64) -> Result<f64>,
    a: f64,
    b: f64,
    fa: f64,
    fm: f64,
    fb: f64,
    whole: f64,
    tolerance: f64,
    depth: u32,
    budget: &mut Budget,
) -> Result<f64> {
    let m = (a + b) / 2.0;
    let (lm, rm) = ((a + m) / 2.0, (m + b) / 2.0);
    let (flm, frm) = (f(lm)?, f(rm)?);
    budget.used += 2;
    if budget.used > budget.limit {
        return Err(MathError::TooComplex(
            "the integral needs too many evaluations".into(),
        ));
    }
    let left = (m - a) / 6.0 * (fa + 4.0 * flm + fm);
    let right = (b - m) / 6.0 * (fm + 4.0 * frm + fb);
    let delta = left + right - whole;
    if depth == 0 || delta.abs() <= 15.0 * tolerance {
        return Ok(left + right + delta / 15.0);
    }
    Ok(simpson(
        f,
        a,
        m,
        fa,
        flm,
        fm,
        left,
        tolerance / 2.0,
        depth - 1,
        budget,
    )? + simpson(
        f,
        m,
        b,
        fm,
        frm,
        fb,
        right,
        tolerance / 2.0,
        depth - 1,
        budget,
    )?)
}

fn render_polynomial(coefficients: &[f64], x: &str) -> String {
    let mut node: Option<Node> = None;
    for (power, c) in coefficients.iter().enumerate().rev() {
        if *c == 0.0 {
            continue;
        }
        let term = match power {
            0 => num(*c),
            1 => bin("*", num(*c), Node::Variable(x.to_owned(), 0)),
            p => bin(
                "*",
                num(*c),
                bin("^", Node::Variable(x.to_owned(), 0), num(p as f64)),
            ),
        };
        node = Some(match node {
            None => term,
            Some(acc) => bin("+", acc, term),
        });
    }
    render(&simplify_node(&node.unwrap_or(num(0.0))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_are_simplified() {
        assert_eq!(derivative("x^2", "x").unwrap(), "2 * x");
        assert_eq!(
            derivative("3 * x^3 + 2 * x + 7", "x").unwrap(),
            "9 * x ^ 2 + 2"
        );
        assert_eq!(derivative("sin(x)", "x").unwrap(), "cos(x)");
        assert_eq!(derivative("exp(2 * x)", "x").unwrap(), "2 * exp(2 * x)");
        assert_eq!(derivative("ln(x)", "x").unwrap(), "1 / x");
        assert_eq!(derivative("x * y", "y").unwrap(), "x");
        assert_eq!(derivative("5", "x").unwrap(), "0");
        // Whatever its form, the derivative evaluates right: d/dx x^x at 2 = 4 (1 + ln 2).
        let dxx = derivative("x^x", "x").unwrap();
        let at_two = evaluate_at(&dxx, "x", 2.0).unwrap();
        assert!((at_two - 4.0 * (1.0 + 2f64.ln())).abs() < 1e-12, "{dxx}");
        assert!(derivative("x!", "x").is_err());
    }

    #[test]
    fn simplification_rules() {
        assert_eq!(simplify("x * 1 + 0").unwrap(), "x");
        assert_eq!(simplify("2 * 3 * x").unwrap(), "6 * x");
        assert_eq!(simplify("x - x").unwrap(), "0");
        assert_eq!(simplify("x * x").unwrap(), "x ^ 2");
        assert_eq!(simplify("(x ^ 2) ^ 3").unwrap(), "x ^ 6");
        assert_eq!(simplify("sqrt(16) + y").unwrap(), "4 + y");
        assert_eq!(simplify("(a + b) * c").unwrap(), "(a + b) * c");
        assert_eq!(simplify("a - (b - c)").unwrap(), "a - (b - c)");
    }

    #[test]
    fn polynomial_roots_real_and_complex() {
        let (roots, method) = solve("x^2 - 5x + 6 = 0", "x", (-100.0, 100.0)).unwrap();
        assert_eq!(method, SolveMethod::Polynomial);
        assert_eq!(
            roots,
            vec![Root { re: 2.0, im: 0.0 }, Root { re: 3.0, im: 0.0 }]
        );
        let (roots, _) = solve("x^2 = -4", "x", (-100.0, 100.0)).unwrap();
        assert_eq!(
            roots,
            vec![Root { re: 0.0, im: -2.0 }, Root { re: 0.0, im: 2.0 }]
        );
        let (roots, _) = solve("2x + 1 = 7", "x", (-100.0, 100.0)).unwrap();
        assert_eq!(roots, vec![Root { re: 3.0, im: 0.0 }]);
        // (x-1)(x-2)(x-3)(x+4) = x^4 - 2x^3 - 13x^2 + 38x - 24
        let (roots, _) = solve("x^4 - 2x^3 - 13x^2 + 38x - 24", "x", (-100.0, 100.0)).unwrap();
        let real: Vec<f64> = roots.iter().map(|r| r.re).collect();
        for (got, want) in real.iter().zip([-4.0, 1.0, 2.0, 3.0]) {
            assert!((got - want).abs() < 1e-9, "{real:?}");
        }
        assert!(solve("x = x + 1", "x", (-1.0, 1.0)).is_err());
    }

    #[test]
    fn numeric_roots_by_sign_change() {
        let (roots, method) = solve("cos(x) = x", "x", (-10.0, 10.0)).unwrap();
        assert_eq!(method, SolveMethod::Numeric);
        assert_eq!(roots.len(), 1);
        assert!((roots[0].re - 0.739_085_133_215_160_6).abs() < 1e-12);
        let (roots, _) = solve("sin(x)", "x", (-1.0, 7.0)).unwrap();
        let found: Vec<f64> = roots.iter().map(|r| r.re).collect();
        assert_eq!(found.len(), 3, "{found:?}");
        // tan changes sign at its poles, which are not roots.
        let (roots, _) = solve("tan(x)", "x", (1.0, 2.0)).unwrap();
        assert!(roots.is_empty(), "{roots:?}");
    }

    #[test]
    fn integrals() {
        let poly = integrate("3x^2 + 1", "x", 0.0, 2.0).unwrap();
        assert_eq!(poly.value, 10.0);
        assert_eq!(poly.antiderivative.as_deref(), Some("x ^ 3 + x"));
        let sine = integrate("sin(x)", "x", 0.0, std::f64::consts::PI).unwrap();
        assert!((sine.value - 2.0).abs() < 1e-10);
        assert_eq!(sine.antiderivative, None);
        let gauss = integrate("exp(-x^2)", "x", -5.0, 5.0).unwrap();
        assert!((gauss.value - std::f64::consts::PI.sqrt()).abs() < 1e-9);
    }
}
