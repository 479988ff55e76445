package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * A chat or text completion written as Ollama answers {@code /api/chat} ({@code message}) and
 * {@code /api/generate} ({@code response}): one object with {@code done: true}, {@code done_reason} and
 * the counts and durations (nanoseconds), or, streamed, one JSON object a line (newline-delimited JSON)
 * per piece of text, the tool calls whole in their own line, and a last {@code done: true} one.
 * One instance serves one request.
 */
final class OllamaDialect implements Dialect {
    private final String model;
    /** Whether the answer is a chat message (else the text of /api/generate). */
    private final boolean message;
    /** The streamed tool calls, built from their deltas: name and arguments per call index. */
    private final List<String[]> calls = new ArrayList<>();
    private String finish;
    private final StreamTotals totals = new StreamTotals();

    OllamaDialect(String model, boolean message) {
        this.model = model;
        this.message = message;
    }

    @Override
    public String streamContentType() {
        return "application/x-ndjson";
    }

    @Override
    public ObjectNode whole(ObjectNode body) {
        JsonNode choice = body.get("choices").get(0);
        ObjectNode out = head();
        if (message) {
            JsonNode m = choice.get("message");
            ObjectNode msg = out.putObject("message").put("role", "assistant").put("content", m.path("content").asText(""));
            if (m.hasNonNull("reasoning_content")) {
                msg.put("thinking", m.get("reasoning_content").asText());
            }
            if (!m.path("tool_calls").isEmpty()) {
                ArrayNode calls = msg.putArray("tool_calls");
                for (JsonNode c : m.get("tool_calls")) {
                    calls.addObject().putObject("function").put("name", c.path("function").path("name").asText())
                            .set("arguments", Json.parseOrText(c.path("function").path("arguments").asText()));
                }
            }
        } else {
            // /api/generate through the template comes as a chat answer, a raw one as a text completion.
            out.put("response", choice.has("message") ? choice.path("message").path("content").asText("") : choice.path("text").asText(""));
        }
        return done(out, choice.path("finish_reason").asText("stop"), (ObjectNode) body.get("usage"), body.get("timings"));
    }

    @Override
    public void chunk(OutputStream out, ObjectNode chunk) throws IOException {
        if (totals.read(chunk)) {
            return;
        }
        JsonNode choice = chunk.path("choices").path(0);
        if (choice.hasNonNull("finish_reason")) {
            finish = choice.get("finish_reason").asText();
        }
        if (!message) {
            String text = choice.has("delta") ? choice.path("delta").path("content").asText("") : choice.path("text").asText("");
            if (!text.isEmpty()) {
                line(out, head().put("response", text).put("done", false));
            }
            return;
        }
        ChatChunk c = ChatChunk.of(chunk);
        for (JsonNode call : c.toolCalls()) {
            int i = call.path("index").asInt(0);
            while (calls.size() <= i) {
                calls.add(new String[]{"", ""});
            }
            String[] nameArgs = calls.get(i);
            nameArgs[0] += call.path("function").path("name").asText("");
            nameArgs[1] += call.path("function").path("arguments").asText("");
        }
        if (!c.content().isEmpty() || !c.thinking().isEmpty()) {
            ObjectNode line = head();
            ObjectNode msg = line.putObject("message").put("role", "assistant").put("content", c.content());
            if (!c.thinking().isEmpty()) {
                msg.put("thinking", c.thinking());
            }
            line(out, line.put("done", false));
        }
        if (c.finishReason() != null && !calls.isEmpty()) {
            ObjectNode line = head();
            ArrayNode list = line.putObject("message").put("role", "assistant").put("content", "").putArray("tool_calls");
            for (String[] call : calls) {
                list.addObject().putObject("function").put("name", call[0]).set("arguments", Json.parseOrText(call[1]));
            }
            line(out, line.put("done", false));
            calls.clear();
        }
    }

    @Override
    public void end(OutputStream out) throws IOException {
        if (totals.error != null) {
            line(out, Json.object().put("error", totals.error.path("message").asText("error")));
            return;
        }
        ObjectNode last = head();
        if (message) {
            last.putObject("message").put("role", "assistant").put("content", "");
        } else {
            last.put("response", "");
        }
        line(out, done(last, finish == null ? "stop" : finish, totals.usage, totals.timings));
    }

    @Override
    public boolean needsUsage() {
        return true;
    }

    private ObjectNode head() {
        return Json.object().put("model", model).put("created_at", Instant.now().toString());
    }

    /** The last object's fields: done, why, and the counts and durations Ollama reports (nanoseconds). */
    private static ObjectNode done(ObjectNode out, String finishReason, ObjectNode usage, JsonNode timings) {
        out.put("done", true).put("done_reason", finishReason.equals("length") ? "length" : "stop");
        double promptMs = timings == null ? 0 : timings.path("prompt_ms").asDouble(), predictedMs = timings == null ? 0
                : timings.path("predicted_ms").asDouble();
        out.put("total_duration", (long) ((promptMs + predictedMs) * 1e6)).put("load_duration", 0)
                .put("prompt_eval_count", usage == null ? 0 : usage.path("prompt_tokens").asInt())
                .put("prompt_eval_duration", (long) (promptMs * 1e6))
                .put("eval_count", usage == null ? 0 : usage.path("completion_tokens").asInt())
                .put("eval_duration", (long) (predictedMs * 1e6));
        return out;
    }

    private static void line(OutputStream out, ObjectNode o) throws IOException {
        out.write((Json.write(o) + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }
}
