//! Turning tokens into text as they come: whole characters only (a byte-level token may end in
//! the middle of one), and stop strings cut out even when they arrive split across tokens.

use super::LlmError;
use super::tokenizer::ModelTokenizer;

/// Decodes a growing token sequence into text pieces, never splitting a character.
#[derive(Debug, Default)]
pub struct IncrementalDecoder {
    tokens: Vec<u32>,
    /// Where the window decoded for context starts.
    prefix: usize,
    /// Tokens up to here have been emitted.
    read: usize,
}

impl IncrementalDecoder {
    /// Adds `token`; returns the text it completes (often empty while a character is partial).
    pub fn push(&mut self, tokenizer: &ModelTokenizer, token: u32) -> Result<String, LlmError> {
        self.tokens.push(token);
        // Decode a short window: a token's text can depend on the one before it.
        let before = tokenizer.decode(&self.tokens[self.prefix..self.read], true)?;
        let now = tokenizer.decode(&self.tokens[self.prefix..], true)?;
        match now.get(before.len()..) {
            Some(new) if !new.is_empty() && !now.ends_with('\u{FFFD}') => {
                let new = new.to_owned();
                self.prefix = self.read;
                self.read = self.tokens.len();
                Ok(new)
            }
            // A character still incomplete: wait for the next token.
            _ => Ok(String::new()),
        }
    }
}

/// Holds back text that may be the start of a stop string and cuts the text at the first one.
#[derive(Debug, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    pending: String,
}

impl StopMatcher {
    pub fn new(stops: Vec<String>) -> Self {
        Self {
            stops: stops.into_iter().filter(|s| !s.is_empty()).collect(),
            pending: String::new(),
        }
    }

    /// Adds `text`; returns what may be sent now and whether a stop string was reached.
    pub fn push(&mut self, text: &str) -> (String, bool) {
        self.pending.push_str(text);
        if self.stops.is_empty() {
            return (std::mem::take(&mut self.pending), false);
        }
        if let Some(at) = self
            .stops
            .iter()
            .filter_map(|stop| self.pending.find(stop.as_str()))
            .min()
        {
            let out = self.pending[..at].to_owned();
            self.pending.clear();
            return (out, true);
        }
        // Keep the longest tail that a stop string starts with.
        let held = self
            .stops
            .iter()
            .flat_map(|stop| {
                (1..stop.len())
                    .rev()
                    .filter(|&k| stop.is_char_boundary(k))
                    .find(|&k| self.pending.ends_with(&stop[..k]))
            })
            .max()
            .unwrap_or(0);
        let cut = self.pending.len() - held;
        let out = self.pending[..cut].to_owned();
        self.pending.drain(..cut);
        (out, false)
    }

    /// What is still held back, once generation ends without a stop string.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_strings_split_across_pieces_are_caught() {
        let mut stops = StopMatcher::new(vec!["\nUser:".into(), "END".into()]);
        assert_eq!(stops.push("Hello"), ("Hello".into(), false));
        assert_eq!(stops.push(" there\nUs"), (" there".into(), false));
        assert_eq!(stops.push("er: hi"), (String::new(), true));
        let mut stops = StopMatcher::new(vec!["END".into()]);
        assert_eq!(stops.push("the EN"), ("the ".into(), false));
        assert_eq!(stops.push("ough"), ("ENough".into(), false));
        assert_eq!(stops.push("E"), (String::new(), false));
        assert_eq!(stops.finish(), "E");
        let mut none = StopMatcher::new(vec![]);
        assert_eq!(none.push("x"), ("x".into(), false));
    }

    #[test]
    fn the_earliest_stop_string_wins() {
        let mut stops = StopMatcher::new(vec!["b".into(), "a".into()]);
        assert_eq!(stops.push("xxaxb"), ("xx".into(), true));
    }
}
