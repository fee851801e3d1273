//! The template preprocessor of the WGSL files that unroll (shaders/matmul_subgroup.wgsl):
//! `@for`/`@if` directives in comment lines and `${expr}` substitutions, expanded once per
//! kernel variant before the source reaches the compiler. Plain text in, plain text out; it
//! knows nothing of GPUs, so it is tested here as a unit.

/// Expands the template directives of a WGSL file (see shaders/matmul_subgroup.wgsl):
/// `// @for v in 0..N` … `// @end` repeats its lines for v = 0..N-1, where N is a number or a
/// name that `consts` knows; `// @if COND` … (`// @else` …) `// @end` keeps one branch, COND
/// being names that `flags` knows joined by `&&` and `||`, each maybe negated by `!`; `${expr}`
/// becomes the value of an integer expression over the loop variables in
/// scope (`+ - * / %`, parentheses), except in comment lines. Directives must be alone on their
/// line.
pub fn expand_template(
    src: &str,
    consts: impl Fn(&str) -> Option<u32>,
    flags: impl Fn(&str) -> Option<bool>,
) -> std::result::Result<String, String> {
    let lines: Vec<&str> = src.lines().collect();
    let mut out = String::with_capacity(src.len() * 8);
    let mut vars = Vec::new();
    let end = expand_lines(&lines, 0, &consts, &flags, &mut vars, &mut out)?;
    match end {
        (i, None) if i == lines.len() => Ok(out),
        (i, _) => Err(format!("line {}: unmatched {}", i + 1, lines[i].trim())),
    }
}

/// The value of an `@if` condition: flags joined by `&&` (binding tighter) and `||`, each
/// maybe negated by `!`.
fn condition(
    cond: &str,
    flags: &impl Fn(&str) -> Option<bool>,
) -> std::result::Result<bool, String> {
    let mut any = false;
    for term in cond.split("||") {
        let mut all = true;
        for factor in term.split("&&") {
            let factor = factor.trim();
            let (negated, name) = match factor.strip_prefix('!') {
                Some(name) => (true, name.trim()),
                None => (false, factor),
            };
            let value = flags(name).ok_or_else(|| format!("unknown flag {name}"))?;
            all &= value != negated;
        }
        any |= all;
    }
    Ok(any)
}

/// A directive on `line`: (keyword, argument).
fn directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim().strip_prefix("// @")?;
    let (word, arg) = rest.split_once(' ').unwrap_or((rest, ""));
    matches!(word, "for" | "if" | "else" | "end").then_some((word, arg.trim()))
}

/// Expands `lines[start..]` into `out` until an `@else` or `@end` that closes the caller's block
/// (or the end of input); returns its index and keyword.
fn expand_lines<'a>(
    lines: &[&'a str],
    start: usize,
    consts: &impl Fn(&str) -> Option<u32>,
    flags: &impl Fn(&str) -> Option<bool>,
    vars: &mut Vec<(&'a str, i64)>,
    out: &mut String,
) -> std::result::Result<(usize, Option<&'static str>), String> {
    let mut i = start;
    while i < lines.len() {
        let line = lines[i];
        let err = |msg: String| format!("line {}: {msg}: {}", i + 1, line.trim());
        match directive(line) {
            Some(("end", _)) => return Ok((i, Some("end"))),
            Some(("else", _)) => return Ok((i, Some("else"))),
            Some(("for", arg)) => {
                let (var, range) = arg
                    .split_once(" in 0..")
                    .ok_or_else(|| err("expected `@for v in 0..N`".into()))?;
                let n = match range.trim().parse::<u32>() {
                    Ok(n) => n,
                    Err(_) => {
                        consts(range.trim()).ok_or_else(|| err(format!("unknown bound {range}")))?
                    }
                };
                // Expand the body once per value; an empty range still has to find its end.
                let mut close = None;
                for v in 0..n.max(1) {
                    vars.push((var.trim(), v as i64));
                    let mut body = String::new();
                    let (j, kw) = expand_lines(lines, i + 1, consts, flags, vars, &mut body)?;
                    vars.pop();
                    if kw != Some("end") {
                        return Err(err("@for without @end".into()));
                    }
                    if v < n {
                        out.push_str(&body);
                    }
                    close = Some(j);
                }
                i = close.expect("at least one pass") + 1;
            }
            Some(("if", cond)) => {
                let on = condition(cond, flags).map_err(err)?;
                let mut then_part = String::new();
                let (j, kw) = expand_lines(lines, i + 1, consts, flags, vars, &mut then_part)?;
                let (close, else_part) = match kw {
                    Some("else") => {
                        let mut else_part = String::new();
                        let (k, kw) =
                            expand_lines(lines, j + 1, consts, flags, vars, &mut else_part)?;
                        if kw != Some("end") {
                            return Err(err("@if without @end".into()));
                        }
                        (k, else_part)
                    }
                    Some("end") => (j, String::new()),
                    _ => return Err(err("@if without @end".into())),
                };
                out.push_str(if on { &then_part } else { &else_part });
                i = close + 1;
            }
            // Comment lines are copied as they are (they may describe the syntax).
            _ if line.trim_start().starts_with("//") => {
                out.push_str(line);
                out.push('\n');
                i += 1;
            }
            _ => {
                substitute(line, vars, out).map_err(err)?;
                out.push('\n');
                i += 1;
            }
        }
    }
    Ok((i, None))
}

/// Copies `line` to `out` with every `${expr}` replaced by its value.
fn substitute(
    line: &str,
    vars: &[(&str, i64)],
    out: &mut String,
) -> std::result::Result<(), String> {
    let mut rest = line;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let close = rest[at..]
            .find('}')
            .ok_or_else(|| "unclosed ${".to_string())?;
        let expr = &rest[at + 2..at + close];
        out.push_str(&Expr::new(expr, vars).eval()?.to_string());
        rest = &rest[at + close + 1..];
    }
    out.push_str(rest);
    Ok(())
}

/// A tiny recursive-descent evaluator for `${...}`: integers, variables, `+ - * / %`, `( )`.
struct Expr<'a, 'v> {
    src: &'a str,
    pos: usize,
    vars: &'v [(&'v str, i64)],
}

impl<'a, 'v> Expr<'a, 'v> {
    fn new(src: &'a str, vars: &'v [(&'v str, i64)]) -> Self {
        Expr { src, pos: 0, vars }
    }
    fn eval(mut self) -> std::result::Result<i64, String> {
        let v = self.sum()?;
        self.skip_ws();
        if self.pos != self.src.len() {
            return Err(format!(
                "unexpected `{}` in ${{{}}}",
                &self.src[self.pos..],
                self.src
            ));
        }
        Ok(v)
    }
    fn skip_ws(&mut self) {
        while self.src[self.pos..].starts_with(' ') {
            self.pos += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.src.as_bytes().get(self.pos).copied()
    }
    fn sum(&mut self) -> std::result::Result<i64, String> {
        let mut v = self.product()?;
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.pos += 1;
            let r = self.product()?;
            v = if op == b'+' { v + r } else { v - r };
        }
        Ok(v)
    }
    fn product(&mut self) -> std::result::Result<i64, String> {
        let mut v = self.atom()?;
        while let Some(op @ (b'*' | b'/' | b'%')) = self.peek() {
            self.pos += 1;
            let r = self.atom()?;
            v = match op {
                b'*' => v * r,
                _ if r == 0 => return Err(format!("division by zero in ${{{}}}", self.src)),
                b'/' => v / r,
                _ => v % r,
            };
        }
        Ok(v)
    }
    fn atom(&mut self) -> std::result::Result<i64, String> {
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let v = self.sum()?;
                if self.peek() != Some(b')') {
                    return Err(format!("missing `)` in ${{{}}}", self.src));
                }
                self.pos += 1;
                Ok(v)
            }
            Some(c) if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = self.pos;
                while self
                    .src
                    .as_bytes()
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    self.pos += 1;
                }
                let word = &self.src[start..self.pos];
                if let Ok(n) = word.parse::<i64>() {
                    return Ok(n);
                }
                self.vars
                    .iter()
                    .rev()
                    .find(|(name, _)| *name == word)
                    .map(|&(_, v)| v)
                    .ok_or_else(|| format!("unknown variable `{word}` in ${{{}}}", self.src))
            }
            _ => Err(format!(
                "expected a number or variable in ${{{}}}",
                self.src
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::expand_template;

    #[test]
    fn template_expansion() {
        let consts = |name: &str| (name == "ROWS").then_some(3);
        let flags = |name: &str| match name {
            "ON" => Some(true),
            "OFF" => Some(false),
            _ => None,
        };
        let src = "a\n\
                   // @for i in 0..ROWS\n\
                   x[${i}] = y[${i*4+1}] + ${(i + 1) % 2};\n\
                   // @for j in 0..2\n\
                   z${i}_${j} = ${i*2+j};\n\
                   // @end\n\
                   // @end\n\
                   // @if ON\n\
                   on\n\
                   // @else\n\
                   off\n\
                   // @end\n\
                   // @if OFF || !OFF && ON\n\
                   // @if ON && OFF\n\
                   no\n\
                   // @end\n\
                   yes\n\
                   // @end\n\
                   // comment keeps ${i}\n\
                   // @for k in 0..0\n\
                   never\n\
                   // @end\n\
                   b";
        let got = expand_template(src, consts, flags).unwrap();
        let want = "a\nx[0] = y[1] + 1;\nz0_0 = 0;\nz0_1 = 1;\nx[1] = y[5] + 0;\nz1_0 = 2;\n\
                    z1_1 = 3;\nx[2] = y[9] + 1;\nz2_0 = 4;\nz2_1 = 5;\non\nyes\n// comment keeps ${i}\nb\n";
        assert_eq!(got, want);
        for (bad, needle) in [
            ("// @for i in 0..3\nx", "without @end"),
            ("x\n// @end", "unmatched"),
            ("// @for i in 0..N\n// @end", "unknown bound N"),
            ("// @if ON && MAYBE\n// @end", "unknown flag MAYBE"),
            ("${j}", "unknown variable `j`"),
            ("${1/0}", "division by zero"),
            ("${(1}", "missing `)`"),
            ("${1 2}", "unexpected"),
        ] {
            let err = expand_template(bad, consts, flags).unwrap_err();
            assert!(err.contains(needle), "{bad:?}: {err}");
        }
    }
}
