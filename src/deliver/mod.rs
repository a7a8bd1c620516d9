//! Delivery: composing the reply email and sending it (outbox folder or SMTP).
