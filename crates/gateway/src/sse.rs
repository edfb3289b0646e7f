//! Passing an upstream server-sent-event stream through to the client as it arrives, while
//! reading what metering needs from it: the first token's time, the usage chunk, and `[DONE]`
//! (before which the usage record is journaled, so a client that saw the end of the stream has
//! its request metered). The gateway always asks the upstream for a usage chunk and drops it
//! again when the client did not ask for one.

use crate::meter::Meter;
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};

struct State<S> {
    upstream: S,
    meter: Meter,
    buf: BytesMut,
    client_wants_usage: bool,
    ended: bool,
}

/// The events found in `buf` so far, metered and filtered, ready to forward.
fn drain_events(buf: &mut BytesMut, meter: &mut Meter, client_wants_usage: bool) -> BytesMut {
    let mut out = BytesMut::new();
    while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
        let event = buf.split_to(end + 2);
        if forward_event(&event, meter, client_wants_usage) {
            out.extend_from_slice(&event);
        }
    }
    out
}

/// Meters one event; false when it must not reach the client (a usage chunk nobody asked for).
fn forward_event(event: &[u8], meter: &mut Meter, client_wants_usage: bool) -> bool {
    let Some(data) = event.strip_prefix(b"data: ").or_else(|| event.strip_prefix(b"data:")) else {
        return true;
    };
    let data = data.trim_ascii();
    if data == b"[DONE]" {
        meter.finish(200);
        return true;
    }
    let has_usage = contains(data, b"\"usage\":{");
    if contains(data, b"\"choices\":[{") {
        meter.first_token();
        if !has_usage {
            // Engines that send no usage chunk: one event is about one token.
            meter.completion_tokens += 1;
        }
    }
    if !has_usage {
        return true;
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return true };
    let usage = &value["usage"];
    if let (Some(p), Some(c)) = (usage["prompt_tokens"].as_u64(), usage["completion_tokens"].as_u64()) {
        meter.prompt_tokens = p;
        meter.completion_tokens = c;
    }
    let only_usage = value["choices"].as_array().is_some_and(|c| c.is_empty());
    client_wants_usage || !only_usage
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub fn meter_stream<S>(
    upstream: S,
    mut meter: Meter,
    client_wants_usage: bool,
) -> impl Stream<Item = Result<Bytes, std::io::Error>>
where
    S: Stream<Item = Result<Bytes, reqwest::Error>> + Unpin + Send + 'static,
{
    meter.streamed = true;
    let state = State { upstream, meter, buf: BytesMut::new(), client_wants_usage, ended: false };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if st.ended {
                return None;
            }
            match st.upstream.next().await {
                Some(Ok(chunk)) => {
                    st.buf.extend_from_slice(&chunk);
                    let out = drain_events(&mut st.buf, &mut st.meter, st.client_wants_usage);
                    if !out.is_empty() {
                        return Some((Ok(out.freeze()), st));
                    }
                }
                Some(Err(e)) => {
                    // The replica broke off mid-stream; bytes already reached the client, so
                    // there is no retry. The record says so.
                    tracing::warn!(error = %e, "upstream stream failed");
                    st.meter.finish(502);
                    st.ended = true;
                    return Some((Err(std::io::Error::other(e)), st));
                }
                None => {
                    st.ended = true;
                    let rest = std::mem::take(&mut st.buf);
                    st.meter.finish(200);
                    if !rest.is_empty() {
                        return Some((Ok(rest.freeze()), st));
                    }
                    return None;
                }
            }
        }
    })
}
