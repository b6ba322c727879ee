//! The chat template a model ships (`tokenizer.chat_template`, Jinja as HF writes it), rendered
//! with minijinja; ChatML when the model has none.

use minijinja::{Environment, Error, ErrorKind, context};
use serde::Serialize;

use super::LlmError;

/// ChatML, which SmolLM2, Qwen and many others use.
const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// A compiled chat template.
pub struct ChatTemplate {
    environment: Environment<'static>,
    /// The texts of the model's begin and end tokens, which templates may write.
    bos_token: String,
    eos_token: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate").finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// Compiles `source`, or ChatML when `None`.
    pub fn new(source: Option<&str>) -> Result<Self, LlmError> {
        Self::with_tokens(source, "", "")
    }

    /// Compiles `source` for a model whose begin and end tokens are written `bos` and `eos`.
    pub fn with_tokens(source: Option<&str>, bos: &str, eos: &str) -> Result<Self, LlmError> {
        let mut environment = Environment::new();
        // HF templates call Python string methods (`.strip()`, `.startswith()`).
        environment
            .set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        environment.add_function(
            "raise_exception",
            |message: String| -> Result<String, Error> {
                Err(Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        environment
            .add_template_owned("chat", source.unwrap_or(CHATML).to_owned())
            .map_err(|e| LlmError::Load(format!("the model's chat template: {e}")))?;
        Ok(Self {
            environment,
            bos_token: bos.to_owned(),
            eos_token: eos.to_owned(),
        })
    }

    /// The prompt text for `messages`, ending with the assistant's turn opened.
    pub fn render(&self, messages: &[Message]) -> Result<String, LlmError> {
        let template = self
            .environment
            .get_template("chat")
            .map_err(|e| LlmError::Internal(e.to_string()))?;
        template
            .render(context! { messages => minijinja::Value::from(minijinja::value::Serde(messages)), add_generation_prompt => true,
                bos_token => &self.bos_token, eos_token => &self.eos_token })
            .map_err(|e| LlmError::Invalid {
                field: "messages".into(),
                message: format!("the model's chat template refused them: {e}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(role: &str, content: &str) -> Message {
        Message {
            role: role.into(),
            content: content.into(),
        }
    }

    #[test]
    fn chatml_opens_the_assistant_turn() {
        let template = ChatTemplate::new(None).unwrap();
        let prompt = template
            .render(&[message("system", "Be brief."), message("user", "Hi")])
            .unwrap();
        assert_eq!(
            prompt,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn python_methods_and_raise_exception_work() {
        let template = ChatTemplate::new(Some(
            "{% if messages[0]['role'] == 'tool' %}{{ raise_exception('no tools') }}{% endif %}{{ messages[0]['content'].strip() }}",
        ))
        .unwrap();
        assert_eq!(template.render(&[message("user", "  x  ")]).unwrap(), "x");
        let error = template.render(&[message("tool", "x")]).unwrap_err();
        assert!(error.to_string().contains("no tools"), "{error}");
    }
}
