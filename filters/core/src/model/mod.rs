//! The canonical model every wire format converts to and from.
//!
//! Each provider format has one module in [`crate::formats`] that decodes its wire shape into
//! these types and encodes these types back into its wire shape; no format module knows about
//! another. The model therefore carries the union of what the supported formats can express
//! (system prompts, tool calls with JSON-text arguments, thinking with signatures, cache
//! markers, stop reasons, usage with explicit unknowns), and each encoder documents what its
//! format has to drop.

pub mod embeddings;
pub mod error;
pub mod request;
pub mod response;
pub mod stream;
pub mod usage;

pub use embeddings::{EmbeddingsRequest, EmbeddingsResponse, VectorEncoding};
pub use error::{ApiError, ErrorClass};
pub use request::{
    ContentPart, ImageSource, Message, Reasoning, ReasoningEffort, Request, ResponseFormat, Role,
    SystemPart, ToolChoice, ToolDefinition, ToolResultPart,
};
pub use response::{Response, StopReason};
pub use stream::{BlockDelta, BlockStart, StreamEvent};
pub use usage::{PromptConvention, Usage};
