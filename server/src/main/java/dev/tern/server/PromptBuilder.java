package dev.tern.server;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.chat.ChatMessage;
import dev.tern.chat.InfillPrompt;
import dev.tern.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Turns the {@code messages} of a chat request or the {@code prompt} of a completion into tokens. */
final class PromptBuilder {
    /** Most prompts in one completion request (each gets its n choices). */
    static final int MAX_PROMPTS = 16;
    private final Tern tern;
    private final ToolCalls.Style toolStyle;
    private final int[] endOfGeneration;
    private final boolean reasoning;
    private final Map<String, Object> defaultKwargs;

    /** A chat prompt's tokens, and whether it ends inside a thinking block the template opened. */
    record ChatPrompt(String text, int[] tokens, boolean opensThinking) {
    }

    /**
     * {@code separateReasoning}: answers of models whose template thinks in tags get their thinking
     * apart; {@code defaultKwargs}: template variables a request's chat_template_kwargs may override.
     */
    PromptBuilder(Tern tern, boolean separateReasoning, Map<String, Object> defaultKwargs) {
        this.defaultKwargs = defaultKwargs;
        this.tern = tern;
        this.toolStyle = ToolCalls.Style.of(tern.chatTemplate().source());
        this.reasoning = separateReasoning && Reasoning.usedBy(tern.chatTemplate().source());
        Tokenizer t = tern.tokenizer();
        this.endOfGeneration = t.endOfGenerationIds();
    }

    /** Whether chat answers are split into thinking and answer. */
    boolean reasoning() {
        return reasoning;
    }

    /** How the model's chat template writes tools and calls. */
    ToolCalls.Style toolStyle() {
        return toolStyle;
    }

    /**
     * The conversation through the model's chat template, ending where the assistant's reply
     * begins; with tools (null: none), given to the template or described in the system message.
     * {@code chat_template_kwargs} (as vLLM and llama.cpp take it, e.g. Qwen3's
     * {@code enable_thinking}) become template variables. As vLLM's, {@code continue_final_message}
     * ends the text with the last message, an assistant's, so that the reply continues it (a prefill,
     * what Anthropic's API does with a last assistant turn), and {@code add_generation_prompt: false}
     * ends it after the last message as the template closes it.
     */
    ChatPrompt chat(ObjectNode body, ToolCalls tools) {
        JsonNode msgs = body.get("messages");
        if (msgs == null || !msgs.isArray() || msgs.isEmpty()) {
            throw ApiException.badRequest("messages must be a non-empty array", "messages");
        }
        List<ChatMessage> list = new ArrayList<>();
        boolean afterToolResult = false;
        for (int i = 0; i < msgs.size(); i++) {
            JsonNode m = msgs.get(i);
            if (!m.isObject() || !m.path("role").isTextual()) {
                throw ApiException.badRequest("each message needs a string role", "messages");
            }
            String role = m.get("role").asText();
            // Only an assistant's turn may go without content (it made tool calls instead), as OpenAI's API has it.
            boolean noContent = m.path("content").isMissingNode() || m.path("content").isNull();
            if (noContent && !role.equals("assistant")) {
                throw ApiException.badRequest("messages[" + i + "].content is required for a message of role '" + role + "'",
                        "messages");
            }
            ChatMessage message = withReasoning(ToolCalls.historyMessage(m, content(m.get("content")), toolStyle), m);
            boolean toolResult = toolStyle == ToolCalls.Style.GENERIC && role.equals("tool");
            if (toolResult && afterToolResult) {
                // Several tool results in a row become one user turn, as templates expect turns to alternate.
                message = new ChatMessage(message.role(), list.removeLast().content() + "\n" + message.content());
            }
            afterToolResult = toolResult;
            list.add(message);
        }
        if (tools != null) {
            list = tools.withInstructions(list);
        }
        Map<String, Object> variables = new HashMap<>(defaultKwargs);
        variables.putAll(templateKwargs(body));
        if (tools != null) {
            variables.putAll(tools.templateVariables());
        }
        boolean continueFinal = flag(body, "continue_final_message", false), generationPrompt = flag(body, "add_generation_prompt", true);
        String last = list.getLast().content();
        JsonNode lastMessage = msgs.get(msgs.size() - 1);
        if (continueFinal && (generationPrompt && body.has("add_generation_prompt") || !list.getLast().role().equals("assistant")
                || lastMessage.has("tool_calls"))) {
            throw ApiException.badRequest("continue_final_message continues a last message of role assistant (text, no"
                    + " tool calls), without add_generation_prompt", "continue_final_message");
        }
        String text;
        try {
            if (continueFinal && !last.isEmpty()) {
                // As vLLM: the rendered conversation cut right after the last message's text, before the template closes it.
                String whole = tern.chatTemplate().render(list, false, variables);
                int at = whole.lastIndexOf(last);
                if (at < 0) {
                    throw ApiException.badRequest("the chat template does not show the last message's text as it is, so it"
                            + " cannot be continued", "continue_final_message");
                }
                text = whole.substring(0, at + last.length());
            } else {
                text = tern.chatTemplate().render(continueFinal ? list.subList(0, list.size() - 1) : list,
                        continueFinal || generationPrompt, variables) + (tools != null ? tools.promptSuffix() : "");
            }
        } catch (TernException e) {
            throw ApiException.badRequest("chat template failed: " + e.getMessage(), "messages");
        }
        return new ChatPrompt(text, tern.encodeRendered(text), Reasoning.opensThinking(text));
    }

    private static boolean flag(ObjectNode body, String key, boolean dflt) {
        JsonNode v = body.get(key);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw ApiException.badRequest(key + " must be a boolean", key);
        }
        return v.asBoolean();
    }

    private static Map<String, Object> templateKwargs(ObjectNode body) {
        JsonNode k = body.get("chat_template_kwargs");
        if (k == null || k.isNull()) {
            return Map.of();
        }
        if (!k.isObject()) {
            throw ApiException.badRequest("chat_template_kwargs must be an object", "chat_template_kwargs");
        }
        return Json.MAPPER.convertValue(k, new TypeReference<Map<String, Object>>() { });
    }

    /**
     * An earlier assistant turn's {@code reasoning_content}, as the template's {@code
     * message.reasoning_content} (Qwen3's keeps the thinking of the turns after the last user message).
     */
    private static ChatMessage withReasoning(ChatMessage message, JsonNode m) {
        JsonNode r = m.get("reasoning_content");
        if (r == null || r.isNull()) {
            return message;
        }
        if (!r.isTextual()) {
            throw ApiException.badRequest("reasoning_content must be a string", "messages");
        }
        Map<String, Object> fields = new HashMap<>(message.fields());
        fields.put("reasoning_content", r.asText());
        return new ChatMessage(message.role(), message.content(), fields);
    }

    private static String content(JsonNode c) {
        if (c == null || c.isNull()) {
            return "";
        }
        if (c.isTextual()) {
            return c.asText();
        }
        if (c.isArray()) {
            StringBuilder sb = new StringBuilder();
            for (JsonNode part : c) {
                if (!"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                    throw ApiException.badRequest("only text content parts are supported", "messages");
                }
                sb.append(part.get("text").asText());
            }
            return sb.toString();
        }
        throw ApiException.badRequest("message content must be a string or an array of text parts", "messages");
    }

    /** The tokens that end generation. */
    int[] endOfGeneration() {
        return endOfGeneration;
    }

    Tokenizer tokenizer() {
        return tern.tokenizer();
    }

    /**
     * The prompts of a completion request: a string, an array of token ids, or an array of
     * several of those (one set of choices each, as OpenAI's batch form). With a {@code suffix},
     * each string prompt is the text before the cursor of a fill-in-the-middle prompt
     * ({@link InfillPrompt}, within three quarters of the context).
     */
    List<int[]> completions(ObjectNode body) {
        JsonNode p = body.get("prompt");
        JsonNode suffix = body.get("suffix");
        if (suffix != null && !suffix.isNull()) {
            if (!suffix.isTextual()) {
                throw ApiException.badRequest("suffix must be a string", "suffix");
            }
            if (!InfillPrompt.supported(tern.tokenizer())) {
                throw ApiException.badRequest("suffix needs a model with fill-in-the-middle tokens; this one has none", "suffix");
            }
            List<String> texts = new ArrayList<>();
            if (p != null && p.isTextual()) {
                texts.add(p.asText());
            } else if (p != null && p.isArray() && !p.isEmpty() && p.size() <= MAX_PROMPTS) {
                p.forEach(one -> texts.add(one.isTextual() ? one.asText() : null));
            }
            if (texts.isEmpty() || texts.contains(null)) {
                throw ApiException.badRequest("with a suffix the prompt must be a string or an array of at most " + MAX_PROMPTS
                        + " strings", "prompt");
            }
            return texts.stream().map(t -> infill(t, suffix.asText(), List.of(), "")).toList();
        }
        if (p != null && p.isArray() && !p.isEmpty() && (p.get(0).isTextual() || p.get(0).isArray())) {
            if (p.size() > MAX_PROMPTS) {
                throw ApiException.badRequest("prompt may hold at most " + MAX_PROMPTS + " prompts", "prompt");
            }
            List<int[]> all = new ArrayList<>();
            for (JsonNode one : p) {
                if (!one.isTextual() && !one.isArray()) {
                    throw ApiException.badRequest("prompt must be a string, an array of token ids, or an array of those", "prompt");
                }
                all.add(completion(one));
            }
            return all;
        }
        return List.of(completion(p));
    }

    /** A fill-in-the-middle prompt within three quarters of the context, the rest left for the middle. */
    int[] infill(String prefix, String suffix, List<InfillPrompt.File> extra, String typed) {
        return InfillPrompt.tokens(tern.tokenizer(), prefix, suffix, extra, typed, tern.contextSize() * 3 / 4);
    }

    /** Whether the model has fill-in-the-middle tokens. */
    boolean infills() {
        return InfillPrompt.supported(tern.tokenizer());
    }

    /** One prompt: a string or an array of token ids. */
    private int[] completion(JsonNode p) {
        if (p != null && p.isTextual()) {
            return tern.tokenizer().encode(p.asText(), true, true);
        }
        if (p != null && p.isArray() && !p.isEmpty()) {
            return Json.tokenIds(p, tern.tokenizer().vocabSize(), "prompt must be a string or an array of token ids in the vocabulary", "prompt");
        }
        throw ApiException.badRequest("prompt must be a string, an array of token ids, or an array of those", "prompt");
    }
}
