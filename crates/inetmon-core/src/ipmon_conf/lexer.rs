//! ipmon.conf text into tokens, each with its line.

use super::{ConfError, ConfErrorKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
    Word(String),
    Str(String),
    Var(String),
    Punct(char),
}

impl Tok {
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("{w:?}"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Var(v) => format!("${v}"),
            Tok::Punct(c) => format!("'{c}'"),
        }
    }
}

pub(super) fn lex(text: &str) -> Result<Vec<(usize, Tok)>, ConfError> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    let word_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '_' | '-');
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '{' | '}' | '(' | ')' | ',' | ';' | '=' | '/' => out.push((line, Tok::Punct(c))),
            '"' => {
                let start = line;
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => {
                            return Err(ConfError {
                                line: start,
                                kind: ConfErrorKind::UnterminatedString,
                            })
                        }
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\')) => s.push(e),
                            Some(e) => {
                                line += usize::from(e == '\n');
                                s.push('\\');
                                s.push(e);
                            }
                            None => {
                                return Err(ConfError {
                                    line: start,
                                    kind: ConfErrorKind::UnterminatedString,
                                })
                            }
                        },
                        Some(c) => {
                            line += usize::from(c == '\n');
                            s.push(c);
                        }
                    }
                }
                out.push((start, Tok::Str(s)));
            }
            '$' => {
                let mut name = String::new();
                if chars.peek() == Some(&'{') {
                    chars.next();
                    while let Some(c) = chars.next_if(|&c| c != '}' && c != '\n') {
                        name.push(c);
                    }
                    if chars.next() != Some('}') {
                        return Err(ConfError {
                            line,
                            kind: ConfErrorKind::BadChar('$'),
                        });
                    }
                } else {
                    while let Some(c) = chars.next_if(|&c| c.is_ascii_alphanumeric() || c == '_') {
                        name.push(c);
                    }
                }
                if name.is_empty() {
                    return Err(ConfError {
                        line,
                        kind: ConfErrorKind::BadChar('$'),
                    });
                }
                out.push((line, Tok::Var(name)));
            }
            c if word_char(c) => {
                let mut w = String::from(c);
                while let Some(c) = chars.next_if(|&c| word_char(c)) {
                    w.push(c);
                }
                out.push((line, Tok::Word(w)));
            }
            c => {
                return Err(ConfError {
                    line,
                    kind: ConfErrorKind::BadChar(c),
                })
            }
        }
    }
    Ok(out)
}
