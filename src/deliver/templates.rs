//! The email templates (`templates/*.j2`), compiled once into one minijinja environment and
//! embedded, so the binary needs no files beside it: the first reply's (`mail`) and the
//! "done" email's (`done`). Both modules render through here; neither knows the other.

use minijinja::Environment;
use std::sync::OnceLock;

/// The reply's plain-text body.
pub(super) const REPLY_TEXT: &str = "reply.txt.j2";
/// The reply's HTML body.
pub(super) const REPLY_HTML: &str = "reply.html.j2";
/// The "done" email's plain-text body.
pub(super) const DONE_TEXT: &str = "done.txt.j2";
/// The "done" email's HTML body.
pub(super) const DONE_HTML: &str = "done.html.j2";

/// The templates, compiled once. Auto-escaping follows the name: `.html.j2` is escaped,
/// `.txt.j2` is not.
pub(super) fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        let sources = [
            (REPLY_TEXT, include_str!("../../templates/reply.txt.j2")),
            (REPLY_HTML, include_str!("../../templates/reply.html.j2")),
            (DONE_TEXT, include_str!("../../templates/done.txt.j2")),
            (DONE_HTML, include_str!("../../templates/done.html.j2")),
        ];
        for (name, source) in sources {
            // The templates are part of the binary: one that does not compile is a bug
            // the tests catch, never a user's input.
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("templates/{name} compiles: {e}"));
        }
        env
    })
}
