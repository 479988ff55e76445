package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.chat.ChatMessage;
import dev.tern.chat.ChatTemplate;
import dev.tern.Tern;
import dev.tern.engine.FinishReason;
import dev.tern.engine.RequestOutput;
import dev.tern.engine.RequestResult;
import dev.tern.kv.KVCacheType;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Thinking apart from the answer: the split of a text, and the same answer streamed in any pieces or whole. */
class ReasoningTest {

    @Test
    void splitsThinkingFromTheAnswer() {
        // The template opened the block: everything up to the closing tag is thinking.
        assertEquals(new Reasoning.Split(0, 9, 19), Reasoning.split("Hmm, 2+2.</think>\n\n4", true, false));
        // The model opens it itself, after any whitespace.
        assertEquals(new Reasoning.Split(8, 12, 23), Reasoning.split(" <think>Hmm.</think>\n\n\n4 it is", false, false));
        // No tag: all answer, at once or once the text can no longer become one.
        assertEquals(new Reasoning.Split(0, 0, 0), Reasoning.split("4", false, false));
        assertEquals(new Reasoning.Split(0, 0, 0), Reasoning.split("<b>4</b>", false, false));
        assertEquals(new Reasoning.Split(0, 0, -1), Reasoning.split("\n<thi", false, false));
        assertEquals(new Reasoning.Split(0, 0, 0), Reasoning.split("\n<thi", false, true));
        // The start of a closing tag is held back until it is one or is not.
        assertEquals(new Reasoning.Split(0, 3, -1), Reasoning.split("Hmm</th", true, false));
        assertEquals(new Reasoning.Split(0, 7, -1), Reasoning.split("Hmm</th", true, true));
        assertEquals(new Reasoning.Split(0, 8, -1), Reasoning.split("Hmm</thx", true, false));
        // Whitespace after the closing tag waits for what follows it.
        assertEquals(new Reasoning.Split(0, 3, -1), Reasoning.split("Hmm</think>\n", true, false));
        assertEquals(new Reasoning.Split(0, 3, 12), Reasoning.split("Hmm</think>\n", true, true));
    }

    @Test
    void promptsAndTemplates() {
        assertEquals(true, Reasoning.opensThinking("<|Assistant|><think>\n"));
        assertEquals(false, Reasoning.opensThinking("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
        assertEquals(true, Reasoning.usedBy("{% set content = content.split('</think>')[-1] %}"));
        assertEquals(false, Reasoning.usedBy("{{ message['content'] }}"));
    }

    /** Qwen3's own template (from its tokenizer_config.json): it thinks in tags, and never opens the block in the prompt. */
    @Test
    void qwen3Template() throws Exception {
        JsonNode config = Json.MAPPER.readTree(Fixtures.tokenizers().resolve("hf/qwen3/tokenizer_config.json").toFile());
        ChatTemplate t = ChatTemplate.of(config.get("chat_template").asText(), null, "<|im_end|>");
        assertEquals(true, Reasoning.usedBy(t.source()));
        List<ChatMessage> hello = List.of(new ChatMessage("user", "Hello!"));
        assertEquals(false, Reasoning.opensThinking(t.render(hello, true)));
        assertEquals(false, Reasoning.opensThinking(t.render(hello, true, Map.of("enable_thinking", false))));
    }

    /**
     * Earlier turns' reasoning_content reaches the template: Qwen3's keeps the thinking of the
     * turns after the last user message, as Python jinja2 renders it (the expected text).
     */
    @Test
    void earlierThinkingGoesBackToTheTemplate() throws Exception {
        JsonNode config = Json.MAPPER.readTree(Fixtures.tokenizers().resolve("hf/qwen3/tokenizer_config.json").toFile());
        try (Tern tern = Tern.load(Fixtures.stories260K("stories260K-f32.gguf"), null,
                new Tern.Options(1, 256, 1, KVCacheType.F32, config.get("chat_template").asText()))) {
            ObjectNode body = Json.parseObject(("{\"messages\": [{\"role\": \"user\", \"content\": \"What is 2+2?\"}, "
                    + "{\"role\": \"assistant\", \"content\": \"4\", \"reasoning_content\": \"A simple sum.\"}, "
                    + "{\"role\": \"user\", \"content\": \"And 3+3?\"}, "
                    + "{\"role\": \"assistant\", \"content\": \"6\", \"reasoning_content\": \"Another sum.\"}]}").getBytes(StandardCharsets.UTF_8));
            PromptBuilder prompts = new PromptBuilder(tern, true, Map.of());
            assertEquals("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n"
                            + "<|im_start|>assistant\n<think>\nAnother sum.\n</think>\n\n6<|im_end|>\n<|im_start|>assistant\n",
                    afterBos(tern.tokenizer().decode(prompts.chat(body, null).tokens())));
            ((ObjectNode) body.get("messages").get(1)).put("reasoning_content", 7);
            assertThrows(ApiException.class, () -> prompts.chat(body, null));
        }
    }

    /** The story model's tokenizer puts its BOS and a space before the text. */
    private static String afterBos(String decoded) {
        return decoded.substring(decoded.indexOf("<|im_start|>"));
    }

    /** Every way of cutting the answer into pieces streams the same thinking and answer as the whole body holds. */
    @Test
    void streamedInAnyPiecesAsWhole() {
        String[][] cases = {
                {"false", "<think>\nFirst, 2+2 is 4. </thin> is not a tag.\n</think>\n\nIt is 4.", "First, 2+2 is 4. </thin> is not a tag.", "It is 4."},
                {"true", "Let me see.\n</think>\n\nYes <think> stays.", "Let me see.", "Yes <think> stays."},
                {"false", "No thinking </think> here.", null, "No thinking </think> here."},
                {"false", "<thi", null, "<thi"},
                {"true", "Cut off while thinking </thi", "Cut off while thinking </thi", ""},
        };
        Random random = new Random(7);
        for (String[] c : cases) {
            boolean inside = Boolean.parseBoolean(c[0]);
            String answer = c[1];
            ObjectNode whole = whole(answer, inside);
            JsonNode message = whole.path("choices").path(0).path("message");
            assertEquals(c[2] == null ? null : c[2], message.has("reasoning_content") ? message.get("reasoning_content").asText() : null, answer);
            assertEquals(c[3], message.get("content").asText(), answer);
            for (int round = 0; round < 40; round++) {
                List<String> pieces = new ArrayList<>();
                for (int at = 0; at < answer.length(); ) {
                    int len = round == 0 ? 1 : 1 + random.nextInt(6);
                    pieces.add(answer.substring(at, Math.min(answer.length(), at + len)));
                    at += len;
                }
                StringBuilder thinking = new StringBuilder(), content = new StringBuilder();
                ResponseFormat.Response r = new ResponseFormat(null).start("m", true, "chatcmpl-1", 1, 1, false, null, true, inside, null);
                List<ObjectNode> chunks = new ArrayList<>();
                for (String p : pieces) {
                    ObjectNode chunk = r.chunk(0, new RequestOutput(p, new int[]{1}, List.of()));
                    if (chunk != null) {
                        chunks.add(chunk);
                    }
                }
                chunks.addAll(r.finalChunks(0, result(pieces.size())));
                boolean thinkingAfterContent = false;
                for (ObjectNode chunk : chunks) {
                    JsonNode delta = chunk.path("choices").path(0).path("delta");
                    if (delta.has("reasoning_content")) {
                        thinkingAfterContent |= !content.isEmpty();
                        thinking.append(delta.get("reasoning_content").asText());
                    }
                    if (delta.has("content")) {
                        content.append(delta.get("content").asText());
                    }
                }
                assertFalse(thinkingAfterContent, answer);
                assertEquals(c[2] == null ? "" : c[2], thinking.toString().strip(), pieces.toString());
                assertEquals(c[3], content.toString(), pieces.toString());
            }
        }
    }

    @Test
    void withoutReasoningTheTagsStayInTheContent() {
        String answer = "<think>Hmm.</think>4";
        ResponseFormat.Response r = new ResponseFormat(null).start("m", true, "chatcmpl-1", 1, 1, false, null, false, false, null);
        r.append(0, new RequestOutput(answer, new int[]{1}, List.of()));
        JsonNode message = r.body(List.of(result(1))).path("choices").path(0).path("message");
        assertEquals(answer, message.get("content").asText());
        assertNull(message.get("reasoning_content"));
    }

    private static ObjectNode whole(String answer, boolean inside) {
        ResponseFormat.Response r = new ResponseFormat(null).start("m", true, "chatcmpl-1", 1, 1, false, null, true, inside, null);
        r.append(0, new RequestOutput(answer, new int[]{1}, List.of()));
        return r.body(List.of(result(1)));
    }

    private static RequestResult result(int tokens) {
        return new RequestResult(FinishReason.STOP, 3, 0, tokens, null, null, 0);
    }
}
