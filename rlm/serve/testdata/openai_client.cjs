// Drives the server with OpenAI's official Node.js client, the way an
// application would, and prints what it saw as one JSON object. The test
// sends its settings on standard input: the API root, the key, the model,
// the document and the question, and the mode: "busy" sends one request to
// a server whose queue is full.
const OpenAI = require('openai');

async function main() {
  const cfg = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const client = new OpenAI({ baseURL: cfg.baseURL, apiKey: cfg.apiKey, maxRetries: 0 });
  const messages = [
    { role: 'user', content: cfg.document },
    { role: 'user', content: cfg.question },
  ];
  const out = {};
  if (cfg.mode === 'busy') {
    try {
      await client.chat.completions.create({ model: cfg.model, messages });
      out.error = 'none';
    } catch (e) {
      out.status = e.status;
      out.rateLimit = e instanceof OpenAI.RateLimitError;
      out.retryAfter = e.headers && e.headers.get('retry-after');
    }
    process.stdout.write(JSON.stringify(out));
    return;
  }

  const models = await client.models.list();
  out.models = models.data.map((m) => m.id);

  // Plain: the document in one message, the question in the next.
  const c = await client.chat.completions.create({ model: cfg.model, messages });
  out.completion = {
    id: c.id, object: c.object, content: c.choices[0].message.content, role: c.choices[0].message.role,
    finish: c.choices[0].finish_reason, usage: c.usage, rlm: c.rlm,
  };

  // The document as a file attached to the question, and a limit passed
  // through as an extra field of the body.
  const fileData = 'data:text/plain;base64,' + Buffer.from(cfg.document).toString('base64');
  const f = await client.chat.completions.create({
    model: cfg.model,
    messages: [{ role: 'user', content: [
      { type: 'text', text: cfg.question },
      { type: 'file', file: { filename: 'transcript.txt', file_data: fileData } },
    ] }],
    rlm: { max_sub_calls: 1 },
  });
  out.file = { content: f.choices[0].message.content, rlm: f.rlm };

  // Streaming, read chunk by chunk.
  const stream = await client.chat.completions.create({
    model: cfg.model, messages, stream: true, stream_options: { include_usage: true },
  });
  const s = { ids: [], content: '', finish: [], progress: [], usage: null, rlm: null };
  for await (const chunk of stream) {
    if (!s.ids.includes(chunk.id)) s.ids.push(chunk.id);
    for (const choice of chunk.choices) {
      if (choice.delta && choice.delta.content) s.content += choice.delta.content;
      if (choice.finish_reason) s.finish.push(choice.finish_reason);
    }
    if (chunk.usage) s.usage = chunk.usage;
    if (chunk.rlm && chunk.rlm.event) s.progress.push(chunk.rlm.event);
    else if (chunk.rlm) s.rlm = chunk.rlm;
  }
  out.stream = s;

  // Streaming through the client's helper, which assembles the chunks
  // into a completion and checks their order as it goes.
  const runner = client.chat.completions.stream({ model: cfg.model, messages });
  const final = await runner.finalChatCompletion();
  out.helper = { content: final.choices[0].message.content, finish: final.choices[0].finish_reason };

  // The trajectory, with the same key.
  const tr = await fetch(cfg.baseURL + '/trajectories/' + c.id, { headers: { Authorization: 'Bearer ' + cfg.apiKey } });
  const lines = (await tr.text()).trim().split('\n').map((l) => JSON.parse(l));
  out.trajectory = { status: tr.status, types: lines.map((r) => r.type) };

  // Errors arrive as the client's typed errors.
  const failures = {
    unknown_model: () => client.chat.completions.create({ model: 'gpt-9', messages }),
    bad_key: () => new OpenAI({ baseURL: cfg.baseURL, apiKey: 'wrong', maxRetries: 0 })
      .chat.completions.create({ model: cfg.model, messages }),
    no_question: () => client.chat.completions.create({ model: cfg.model, messages: [{ role: 'system', content: 'x' }] }),
  };
  out.errors = {};
  for (const [name, run] of Object.entries(failures)) {
    try {
      await run();
      out.errors[name] = { error: 'none' };
    } catch (e) {
      out.errors[name] = {
        status: e.status, code: e.code,
        class: [OpenAI.NotFoundError, OpenAI.AuthenticationError, OpenAI.BadRequestError]
          .filter((k) => e instanceof k).map((k) => k.name)[0] || e.constructor.name,
      };
    }
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
