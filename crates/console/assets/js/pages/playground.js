// Playground: a streaming chat through the gateway (POST /v1/chat/completions, stream: true)
// with the models the signed-in key may use (GET /v1/models). Time to first token is measured
// from sending to the first content; tokens/s over the decode, from the usage chunk's count.

import { request, get } from '../api.js';
import { $, h, fill, fmt, showError } from '../dom.js';
import { sseData } from '../sse.js';

/** Keeps a slider and its number box in step. */
function pair(id) {
  const box = $(`#${id}`);
  const range = $(`#${id}-range`);
  range.addEventListener('input', () => { box.value = range.value; });
  box.addEventListener('input', () => { range.value = box.value; });
  return box;
}

/** "TTFT 180 ms · 42.0 tokens/s · 64 tokens · stop" */
export function statsLine({ sentAt, firstAt, endAt, completionTokens, promptTokens, finish }) {
  const parts = [];
  if (firstAt) parts.push(`TTFT ${fmt.ms(firstAt - sentAt)}`);
  const decodeS = (endAt - (firstAt ?? endAt)) / 1000;
  // The first token arrives at firstAt; the rate is over the ones after it.
  if (completionTokens > 1 && decodeS > 0) parts.push(`${((completionTokens - 1) / decodeS).toFixed(1)} tokens/s`);
  if (completionTokens != null) parts.push(`${completionTokens} tokens${promptTokens != null ? ` (prompt ${promptTokens})` : ''}`);
  parts.push(`${fmt.ms(endAt - sentAt)} total`);
  if (finish) parts.push(`finish: ${finish}`);
  return parts.join(' · ');
}

export async function mount() {
  const onError = (e) => showError($('#play-error'), e);
  const temperature = pair('temperature');
  const topP = pair('top_p');
  const history = [];
  let controller = null;

  try {
    const { data } = await get('/v1/models');
    const select = $('#model');
    if (!data.length) {
      onError(new Error('No model is available to this key. Deploy one on the Models page, or ask for a key that may use one.'));
    }
    fill(select, data.map((m) => h('option', { value: m.id }, `${m.id}${m.ready_replicas ? '' : ' (no replica ready yet)'}`)));
  } catch (e) {
    onError(e);
  }

  const messages = $('#messages');
  const add = (role, text) => {
    $('#chat-empty')?.remove();
    const body = h('div', { class: 'text' }, text);
    const stats = h('div', { class: 'stats' });
    const el = h('div', { class: `msg ${role}`, 'data-role': role }, h('div', { class: 'role' }, role), body, stats);
    messages.append(el);
    messages.scrollTop = messages.scrollHeight;
    return { body, stats };
  };

  const send = async () => {
    const prompt = $('#prompt').value.trim();
    const model = $('#model').value;
    if (!prompt || !model || controller) return;
    onError(null);
    $('#prompt').value = '';
    history.push({ role: 'user', content: prompt });
    add('user', prompt);
    const out = add('assistant', '');
    out.stats.textContent = 'waiting for the first token…';
    const system = $('#system').value.trim();
    const body = {
      model,
      messages: system ? [{ role: 'system', content: system }, ...history] : history,
      stream: true,
      stream_options: { include_usage: true },
      temperature: Number(temperature.value),
      top_p: Number(topP.value),
      max_tokens: Number($('#max_tokens').value) || undefined,
      seed: $('#seed').value === '' ? undefined : Number($('#seed').value),
    };
    controller = new AbortController();
    $('#send').disabled = true;
    $('#stop').disabled = false;
    const t = { sentAt: performance.now(), firstAt: null, endAt: null, completionTokens: null, promptTokens: null, finish: null };
    let text = '';
    let chunks = 0;
    try {
      const res = await request('/v1/chat/completions', { method: 'POST', body, signal: controller.signal });
      for await (const data of sseData(res)) {
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const choice = chunk.choices?.[0];
        const delta = choice?.delta?.content;
        if (delta) {
          t.firstAt ??= performance.now();
          chunks += 1;
          text += delta;
          out.body.textContent = text;
          messages.scrollTop = messages.scrollHeight;
        }
        if (choice?.finish_reason) t.finish = choice.finish_reason;
        if (chunk.usage) {
          t.completionTokens = chunk.usage.completion_tokens;
          t.promptTokens = chunk.usage.prompt_tokens;
        }
      }
    } catch (e) {
      if (e.name === 'AbortError') t.finish = 'stopped';
      else onError(e);
    } finally {
      t.endAt = performance.now();
      // Without a usage chunk (stopped early), count content chunks: one token each here.
      t.completionTokens ??= chunks;
      out.stats.textContent = statsLine(t);
      $('#stats').textContent = out.stats.textContent;
      if (text) history.push({ role: 'assistant', content: text });
      else history.pop();
      controller = null;
      $('#send').disabled = false;
      $('#stop').disabled = true;
    }
  };

  $('#composer').addEventListener('submit', (ev) => {
    ev.preventDefault();
    send();
  });
  $('#prompt').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) {
      ev.preventDefault();
      send();
    }
  });
  $('#stop').addEventListener('click', () => controller?.abort());
  $('#clear').addEventListener('click', () => {
    history.length = 0;
    fill(messages, h('p', { class: 'empty', id: 'chat-empty' }, 'Ask the model something.'));
    $('#stats').textContent = '';
  });
}
