package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.engine.FinishReason;
import dev.tern.engine.RequestOutput;
import dev.tern.engine.RequestResult;
import dev.tern.engine.TokenLogprob;
import dev.tern.tokenizer.StreamDecoder;
import dev.tern.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** The OpenAI JSON of chat completions and (legacy) text completions, whole or as stream chunks. */
final class ResponseFormat {
    private final Tokenizer tokenizer;

    ResponseFormat(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /**
     * A response of {@code choices} choices, {@code perPrompt} for each prompt in turn; with
     * {@code tools} (null: none), each choice's answer becomes tool calls or content once it is whole.
     * With {@code reasoning} (a chat answer of a thinking model), the thinking goes to
     * {@code reasoning_content} and only the rest is content; {@code inside}: the prompt opened the
     * thinking block. {@code prompts}: what the answer tells of its prompts, or null for nothing.
     * {@code model}: the name the answer gives (the model's, or the served adapter's asked for).
     */
    Response start(String model, boolean chat, String id, int choices, int perPrompt, boolean logprobs, ToolCalls tools,
                   boolean reasoning, boolean inside, Prompts prompts) {
        return new Response(model, chat, chat ? id : id.replace("chatcmpl-", "cmpl-"), choices, perPrompt, logprobs, tools,
                reasoning, inside, prompts);
    }

    /**
     * What an answer tells of its prompts, once they are scored: a completion's {@code echo} of
     * each prompt (its tokens' log-probabilities with {@code echoTop} alternatives under logprobs,
     * -1 without), and vLLM's {@code prompt_logprobs} with {@code scoreTop} alternatives (-1: none).
     */
    record Prompts(List<int[]> tokens, boolean echo, int echoTop, int scoreTop) {
        /** The alternatives the engine must give for each prompt token: the most either view shows. */
        int scored() {
            return Math.max(echo ? Math.max(0, echoTop) : -1, scoreTop);
        }
    }

    /** One response being built: the text and log-probabilities of each choice so far. */
    final class Response {
        private final String model;
        private final boolean chat;
        private final String id;
        private final long created = System.currentTimeMillis() / 1000;
        private final boolean logprobs;
        /** Whether text completions' log-probabilities also come as llama-server's completion_probabilities. */
        private boolean llamaCppProbabilities;
        private boolean sampledProbabilities;
        /** With vLLM's return_token_ids: each choice's prompt ids, else null. */
        private List<int[]> promptIds;
        /** With return_token_ids: each choice's generated ids, and how many of them have been streamed. */
        private ArrayNode[] ids;
        private int[] streamedIds;
        /** With return_token_ids: whether choice i's prompt ids have been streamed. */
        private boolean[] promptSent;
        private final ToolCalls tools;
        private final int perPrompt;
        private final boolean reasoning;
        private final boolean inside;
        private final Prompts prompts;
        /** vLLM's prompt_logprobs of each choice, once its prompt is scored. */
        private final ArrayNode[] promptLogprobs;
        /** Each choice's whole output; {@link #text} is its answer, after any thinking. */
        private final StringBuilder[] raw;
        private final StringBuilder[] text;
        /** With reasoning: per choice, how much of raw has gone to text, and how much of its thinking has been streamed. */
        private final int[] fed;
        private final int[] thought;
        /** With reasoning: per choice, how much of raw held no closing tag at the last split. */
        private final int[] scanned;
        /** With reasoning: per choice, whether the thinking is over, so that all further output is answer. */
        private final boolean[] answering;
        private final ArrayNode[] content;
        private final ObjectNode[] legacy;
        /** With tools: how much of each choice's text has been streamed as content. */
        private final int[] sent;
        /** With tools: per choice, the ids of the calls streamed so far and how much of each one's arguments. */
        private final List<List<String>> callIds = new ArrayList<>();
        private final List<List<Integer>> argumentsSent = new ArrayList<>();

        Response(String model, boolean chat, String id, int n, int perPrompt, boolean logprobs, ToolCalls tools, boolean reasoning,
                 boolean inside, Prompts prompts) {
            this.model = model;
            this.prompts = prompts;
            this.promptLogprobs = new ArrayNode[n];
            this.chat = chat;
            this.id = id;
            this.logprobs = logprobs;
            this.tools = tools;
            this.perPrompt = perPrompt;
            this.reasoning = reasoning;
            this.inside = inside;
            this.raw = new StringBuilder[n];
            this.text = new StringBuilder[n];
            this.fed = new int[n];
            this.thought = new int[n];
            this.scanned = new int[n];
            this.answering = new boolean[n];
            this.content = new ArrayNode[n];
            this.legacy = new ObjectNode[n];
            this.sent = new int[n];
            for (int i = 0; i < n; i++) {
                raw[i] = new StringBuilder();
                text[i] = reasoning ? new StringBuilder() : raw[i];
                content[i] = Json.MAPPER.createArrayNode();
                legacy[i] = emptyLegacy();
                callIds.add(new ArrayList<>());
                argumentsSent.add(new ArrayList<>());
            }
        }

        /**
         * Choice i's prompt is scored ({@code scores}: entry j for prompt token j + 1): its echo
         * and vLLM's prompt_logprobs, as {@link Prompts} asks. Returns the stream chunk that carries them.
         */
        ObjectNode prompt(int i, List<TokenLogprob> scores) {
            int[] prompt = prompts.tokens().get(i / perPrompt);
            ObjectNode chunk = prompts.echo() ? echo(i, prompt, scores) : chunk(i, chat ? Json.object() : null, chat ? null : "", null, null);
            if (prompts.scoreTop() >= 0) {
                promptLogprobs[i] = vllmLogprobs(prompt, scores, prompts.scoreTop());
                ((ObjectNode) chunk.get("choices").get(0)).set("prompt_logprobs", promptLogprobs[i]);
            }
            return chunk;
        }

        /**
         * Begins choice i (a completion) with its prompt: the prompt's text (as the tokenizer
         * decodes it: no control tokens such as BOS, no space the tokenizer prefixed) and, with
         * logprobs, its tokens (the first has no log-probability, as in OpenAI's answers) with the
         * {@code scores} of the others.
         */
        private ObjectNode echo(int i, int[] prompt, List<TokenLogprob> scores) {
            int[] textIds = java.util.Arrays.stream(prompt).filter(t -> !tokenizer.isControl(t)).toArray();
            String echo = tokenizer.decode(textIds);
            // Offsets by streaming the pieces, less the prefixed space decode drops from the first.
            StreamDecoder decoder = new StreamDecoder(tokenizer);
            int[] offsets = new int[prompt.length];
            int streamed = 0;
            for (int j = 0; j < prompt.length; j++) {
                offsets[j] = streamed;
                if (!tokenizer.isControl(prompt[j])) {
                    streamed += decoder.append(prompt[j]).length();
                }
            }
            int shift = streamed + decoder.flush().length() - echo.length();
            raw[i].append(echo);
            ObjectNode lp = emptyLegacy();
            if (logprobs) {
                for (int j = 0; j < prompt.length; j++) {
                    TokenLogprob t = j == 0 ? null : scores.get(j - 1);
                    ((ArrayNode) lp.get("tokens")).add(piece(prompt[j]));
                    ((ArrayNode) lp.get("token_logprobs")).add(t == null ? null : t.logprob());
                    ((ArrayNode) lp.get("top_logprobs")).add(t == null ? null : legacyTop(t, prompts.echoTop()));
                    ((ArrayNode) lp.get("text_offset")).add(Math.max(0, offsets[j] - shift));
                }
                for (String key : List.of("tokens", "token_logprobs", "top_logprobs", "text_offset")) {
                    ((ArrayNode) legacy[i].get(key)).addAll((ArrayNode) lp.get(key));
                }
            }
            return chunk(i, null, echo, logprobs ? lp : null, null);
        }

        /**
         * Also writes each token's log-probabilities as llama-server's {@code completion_probabilities}
         * (with token ids and bytes), beside the text completion's own, for the llama.cpp dialect;
         * {@code sampled} ({@code post_sampling_probs}): as probabilities ({@code prob}, {@code top_probs}).
         */
        void withLlamaCppProbabilities(boolean sampled) {
            llamaCppProbabilities = true;
            sampledProbabilities = sampled;
        }

        /**
         * vLLM's return_token_ids: each choice carries the ids of its tokens ({@code token_ids}, in
         * a stream the ids since the last chunk) and of its prompt ({@code prompt_token_ids}, on the
         * choice of a completion, on the answer of a chat; in a stream on the first chunk).
         * {@code prompts}: the prompts, each answered by {@code perPrompt} choices.
         */
        void withTokenIds(List<int[]> prompts) {
            promptIds = prompts;
            ids = new ArrayNode[text.length];
            streamedIds = new int[text.length];
            promptSent = new boolean[text.length];
            for (int i = 0; i < text.length; i++) {
                ids[i] = Json.MAPPER.createArrayNode();
            }
        }

        private void addIds(int i, RequestOutput o) {
            if (ids != null) {
                for (int t : o.tokens()) {
                    ids[i].add(t);
                }
            }
        }

        /** Choice c (of root) carries choice i's ids: all of them, or in a stream those not yet sent. */
        private void putIds(ObjectNode root, ObjectNode c, int i, boolean stream) {
            if (ids == null) {
                return;
            }
            if (!stream || !promptSent[i]) {
                ArrayNode prompt = (chat ? root : c).putArray("prompt_token_ids");
                for (int t : promptIds.get(i / perPrompt)) {
                    prompt.add(t);
                }
                promptSent[i] = true;
            }
            if (stream) {
                ArrayNode fresh = c.putArray("token_ids");
                for (int k = streamedIds[i]; k < ids[i].size(); k++) {
                    fresh.add(ids[i].get(k));
                }
                streamedIds[i] = ids[i].size();
            } else {
                c.set("token_ids", ids[i]);
            }
        }

        /** Accumulates output for the whole-body answer. */
        void append(int i, RequestOutput o) {
            addIds(i, o);
            if (logprobs) {
                addLogprobs(i, o, content[i], legacy[i]);
            }
            feed(i, o.text(), false);
        }

        /**
         * Adds output to choice i; with reasoning, moves the answer part that is settled into
         * {@link #text} and returns the thinking that is settled and not yet streamed ("" for none).
         * {@code whole}: the output is complete, so nothing is held back as a possible tag.
         */
        private String feed(int i, String piece, boolean whole) {
            raw[i].append(piece);
            if (!reasoning) {
                return "";
            }
            if (answering[i]) {
                text[i].append(piece);
                fed[i] = raw[i].length();
                return "";
            }
            Reasoning.Split s = Reasoning.split(raw[i], inside, whole, scanned[i]);
            // No closing tag begins before the thinking's end: the next split searches from there.
            scanned[i] = s.reasoningTo();
            if (s.contentFrom() >= 0) {
                answering[i] = true;
                int from = Math.max(fed[i], s.contentFrom());
                text[i].append(raw[i], from, raw[i].length());
                fed[i] = raw[i].length();
            }
            int from = Math.max(thought[i], s.reasoningFrom());
            if (s.reasoningTo() <= from) {
                return "";
            }
            thought[i] = s.reasoningTo();
            return raw[i].substring(from, s.reasoningTo());
        }

        /** The whole thinking of choice i, or null when it has none. */
        private String thinking(int i) {
            Reasoning.Split s = Reasoning.split(raw[i], inside, true);
            return s.reasoningTo() > s.reasoningFrom() || s.contentFrom() != 0 ? raw[i].substring(s.reasoningFrom(), s.reasoningTo()).strip() : null;
        }

        ObjectNode body(List<RequestResult> results) {
            ObjectNode root = header(chat ? "chat.completion" : "text_completion");
            ArrayNode choices = root.putArray("choices");
            for (int i = 0; i < text.length; i++) {
                ObjectNode c = choices.addObject();
                c.put("index", i);
                String finish = finishReason(results.get(i));
                if (chat) {
                    ObjectNode m = c.putObject("message");
                    m.put("role", "assistant");
                    if (reasoning) {
                        feed(i, "", true);
                        String thinking = thinking(i);
                        if (thinking != null) {
                            m.put("reasoning_content", thinking);
                        }
                    }
                    if (tools != null) {
                        ToolCalls.Reply reply = tools.read(text[i].toString());
                        m.put("content", reply.content());
                        if (!reply.calls().isEmpty()) {
                            m.set("tool_calls", toolCalls(reply, false));
                        }
                        finish = finishReason(results.get(i), reply);
                    } else {
                        m.put("content", text[i].toString());
                    }
                    m.putNull("refusal");
                } else {
                    c.put("text", text[i].toString());
                }
                setLogprobs(c, content[i], legacy[i]);
                if (promptLogprobs[i] != null) {
                    c.set("prompt_logprobs", promptLogprobs[i]);
                }
                c.put("finish_reason", finish);
                putStopReason(c, results.get(i), finish);
                putIds(root, c, i, false);
            }
            root.set("usage", usage(results, perPrompt));
            return root;
        }

        /** Chat streams open each choice with the assistant role. */
        List<ObjectNode> openingChunks() {
            List<ObjectNode> out = new ArrayList<>();
            if (chat) {
                for (int i = 0; i < text.length; i++) {
                    ObjectNode delta = Json.object().put("role", "assistant").put("content", "");
                    out.add(chunk(i, delta, null, null, null));
                }
            }
            return out;
        }

        /**
         * A stream chunk for new output, or null when there is nothing to send yet: with tools, text
         * that can no longer begin a call is streamed as content, and calls as they are written
         * (each named once its name is whole, then its arguments' text piece by piece, as OpenAI
         * streams them); with reasoning, the thinking as it is written, then the answer; with
         * log-probabilities asked for, the answer is read whole at the end.
         */
        ObjectNode chunk(int i, RequestOutput o) {
            addIds(i, o);
            if (tools != null || reasoning) {
                if (logprobs) {
                    // Read whole at the end, thinking and answer alike.
                    addLogprobs(i, o, content[i], legacy[i]);
                    raw[i].append(o.text());
                    return null;
                }
                String thinking = feed(i, o.text(), false);
                ObjectNode delta = Json.object();
                if (!thinking.isEmpty()) {
                    delta.put("reasoning_content", thinking);
                }
                if (tools == null) {
                    return answerDelta(i, delta);
                }
                int end = tools.contentEnd(text[i], sent[i]);
                String piece = null;
                if (end > sent[i]) {
                    piece = text[i].substring(sent[i], end);
                    sent[i] = end;
                    delta.put("content", piece);
                }
                ArrayNode calls = callDeltas(i, tools.partial(text[i]));
                if (!calls.isEmpty()) {
                    delta.set("tool_calls", calls);
                }
                return delta.isEmpty() ? null : chunk(i, delta, piece, null, null);
            }
            ArrayNode lpContent = Json.MAPPER.createArrayNode();
            ObjectNode lpLegacy = emptyLegacy();
            if (logprobs) {
                addLogprobs(i, o, lpContent, lpLegacy);
            }
            text[i].append(o.text());
            ObjectNode delta = chat ? Json.object().put("content", o.text()) : null;
            return chunk(i, delta, o.text(), logprobs ? (chat ? lpContent : lpLegacy) : null, null);
        }

        /** delta plus the answer text not yet streamed, or null when both are empty. */
        private ObjectNode answerDelta(int i, ObjectNode delta) {
            String piece = null;
            if (text[i].length() > sent[i]) {
                piece = text[i].substring(sent[i]);
                sent[i] = text[i].length();
                delta.put("content", piece);
            }
            return delta.isEmpty() ? null : chunk(i, delta, piece, null, null);
        }

        /**
         * The delta elements for calls written since the last chunk: a new call's index, id, type
         * and name, then whatever of its arguments' text has not been sent.
         */
        private ArrayNode callDeltas(int i, List<PartialCalls.Call> calls) {
            ArrayNode out = Json.MAPPER.createArrayNode();
            List<String> ids = callIds.get(i);
            List<Integer> done = argumentsSent.get(i);
            for (int k = 0; k < calls.size(); k++) {
                PartialCalls.Call c = calls.get(k);
                ObjectNode e = null;
                if (k == ids.size()) {
                    ids.add(tools.newId());
                    done.add(0);
                    e = out.addObject().put("index", k).put("id", ids.get(k)).put("type", "function");
                    e.putObject("function").put("name", c.name()).put("arguments", "");
                }
                if (c.arguments().length() > done.get(k)) {
                    if (e == null) {
                        e = out.addObject().put("index", k);
                        e.putObject("function");
                    }
                    ((ObjectNode) e.get("function")).put("arguments", c.arguments().substring(done.get(k)));
                    done.set(k, c.arguments().length());
                }
            }
            return out;
        }

        /** The chunks that end choice i: with tools, first its tool calls or the content not yet streamed. */
        List<ObjectNode> finalChunks(int i, RequestResult r) {
            ObjectNode delta = Json.object();
            if (reasoning) {
                String thinking = feed(i, "", true);
                if (!thinking.isEmpty()) {
                    delta.put("reasoning_content", thinking);
                }
            }
            if (tools == null) {
                List<ObjectNode> out = new ArrayList<>();
                if (reasoning) {
                    ObjectNode rest = answerDelta(i, delta);
                    if (rest != null) {
                        out.add(logprobs ? withLogprobs(rest, content[i]) : rest);
                    } else if (logprobs) {
                        out.add(chunk(i, Json.object(), null, content[i], null));
                    }
                }
                out.add(finalChunk(chunk(i, chat ? Json.object() : null, "", null, finishReason(r)), r));
                return out;
            }
            ToolCalls.Reply reply = tools.read(text[i].toString());
            if (reply.calls().isEmpty()) {
                delta.put("content", sent[i] == 0 ? reply.content() : text[i].substring(sent[i]));
            } else {
                if (sent[i] == 0 && reply.content() != null) {
                    delta.put("content", reply.content());
                }
                delta.set("tool_calls", remainingCalls(i, reply));
            }
            JsonNode lp = logprobs ? content[i] : null;
            return List.of(chunk(i, delta, null, lp, null),
                    finalChunk(chunk(i, Json.object(), "", null, finishReason(r, reply)), r));
        }

        /**
         * The final calls as deltas: the rest of those already streamed (their arguments' text
         * from where it stopped, or whole when none was sent, as for string-valued arguments),
         * then the others whole.
         */
        private ArrayNode remainingCalls(int i, ToolCalls.Reply reply) {
            List<String> ids = callIds.get(i);
            List<PartialCalls.Call> partial = tools.partial(text[i]);
            ArrayNode out = toolCalls(reply, true);
            for (int k = 0; k < out.size() && k < ids.size(); k++) {
                ObjectNode e = (ObjectNode) out.get(k);
                int done = argumentsSent.get(i).get(k);
                String raw = k < partial.size() ? partial.get(k).arguments() : "";
                String rest = done == 0 ? reply.calls().get(k).arguments() : raw.length() >= done ? raw.substring(done) : "";
                e.remove(List.of("id", "type"));
                ((ObjectNode) e.get("function")).remove("name");
                ((ObjectNode) e.get("function")).put("arguments", rest);
            }
            return out;
        }

        /** A chat chunk with the choice's log-probabilities set. */
        private ObjectNode withLogprobs(ObjectNode chunk, JsonNode lp) {
            ObjectNode l = ((ObjectNode) chunk.get("choices").get(0)).putObject("logprobs");
            l.set("content", lp);
            l.putNull("refusal");
            return chunk;
        }

        private ArrayNode toolCalls(ToolCalls.Reply reply, boolean indexed) {
            ArrayNode out = Json.MAPPER.createArrayNode();
            for (int k = 0; k < reply.calls().size(); k++) {
                ToolCalls.Call call = reply.calls().get(k);
                ObjectNode c = out.addObject();
                if (indexed) {
                    c.put("index", k);
                }
                c.put("id", call.id()).put("type", "function");
                c.putObject("function").put("name", call.name()).put("arguments", call.arguments());
            }
            return out;
        }

        ObjectNode usageChunk(List<RequestResult> results) {
            ObjectNode root = header(chat ? "chat.completion.chunk" : "text_completion");
            root.putArray("choices");
            root.set("usage", usage(results, perPrompt));
            return root;
        }

        private ObjectNode chunk(int i, ObjectNode delta, String textDelta, JsonNode lp,
                                 String finish) {
            ObjectNode root = header(chat ? "chat.completion.chunk" : "text_completion");
            ObjectNode c = root.putArray("choices").addObject();
            c.put("index", i);
            if (chat) {
                c.set("delta", delta);
                if (lp == null) {
                    c.putNull("logprobs");
                } else {
                    ObjectNode l = c.putObject("logprobs");
                    l.set("content", lp);
                    l.putNull("refusal");
                }
            } else {
                c.put("text", textDelta);
                c.set("logprobs", lp);
            }
            c.put("finish_reason", finish);
            putIds(root, c, i, true);
            return root;
        }

        private ObjectNode header(String object) {
            ObjectNode root = Json.object();
            root.put("id", id);
            root.put("object", object);
            root.put("created", created);
            root.put("model", model);
            root.put("system_fingerprint", "tern");
            return root;
        }

        private void setLogprobs(ObjectNode choice, ArrayNode chatContent, ObjectNode legacyLp) {
            if (!logprobs) {
                choice.putNull("logprobs");
            } else if (chat) {
                ObjectNode lp = choice.putObject("logprobs");
                lp.set("content", chatContent);
                lp.putNull("refusal");
            } else {
                choice.set("logprobs", legacyLp);
            }
        }

        /** A log-probability as completion_probabilities writes it: as a probability for post_sampling_probs. */
        private float llamaCppValue(float logprob) {
            return sampledProbabilities ? (float) Math.exp(logprob) : logprob;
        }

        private void addLogprobs(int i, RequestOutput o, ArrayNode chatContent, ObjectNode legacyLp) {
            int offset = raw[i].length();
            for (TokenLogprob t : o.logprobs()) {
                String piece = piece(t.token());
                ObjectNode e = chatContent.addObject();
                e.put("token", piece);
                e.put("logprob", t.logprob());
                e.set("bytes", bytes(t.token()));
                ArrayNode top = e.putArray("top_logprobs");
                for (int k = 0; k < t.topTokens().length; k++) {
                    top.addObject().put("token", piece(t.topTokens()[k])).put("logprob", t.topLogprobs()[k])
                            .set("bytes", bytes(t.topTokens()[k]));
                }
                ((ArrayNode) legacyLp.get("tokens")).add(piece);
                ((ArrayNode) legacyLp.get("token_logprobs")).add(t.logprob());
                ((ArrayNode) legacyLp.get("top_logprobs")).add(legacyTop(t, t.topTokens().length));
                ((ArrayNode) legacyLp.get("text_offset")).add(offset);
                offset += piece.length();
                if (llamaCppProbabilities) {
                    ObjectNode p = (legacyLp.has("completion_probabilities") ? (ArrayNode) legacyLp.get("completion_probabilities")
                            : legacyLp.putArray("completion_probabilities")).addObject();
                    p.put("id", t.token()).put("token", piece).set("bytes", bytes(t.token()));
                    String key = sampledProbabilities ? "prob" : "logprob";
                    p.put(key, llamaCppValue(t.logprob()));
                    ArrayNode alternatives = p.putArray(sampledProbabilities ? "top_probs" : "top_logprobs");
                    for (int k = 0; k < t.topTokens().length; k++) {
                        alternatives.addObject().put("id", t.topTokens()[k]).put("token", piece(t.topTokens()[k]))
                                .put(key, llamaCppValue(t.topLogprobs()[k])).set("bytes", bytes(t.topTokens()[k]));
                    }
                }
            }
        }
    }

    /** The legacy completions' first {@code n} top alternatives: their text to their log-probability. */
    private ObjectNode legacyTop(TokenLogprob t, int n) {
        ObjectNode top = Json.object();
        for (int k = 0; k < Math.min(n, t.topTokens().length); k++) {
            top.put(piece(t.topTokens()[k]), t.topLogprobs()[k]);
        }
        return top;
    }

    /**
     * vLLM's prompt_logprobs: null for the first token, then for each token an object of token ids
     * (as strings) to their logprob, rank and decoded_token: the prompt's own token and the
     * {@code top} most likely.
     */
    private ArrayNode vllmLogprobs(int[] prompt, List<TokenLogprob> scores, int top) {
        ArrayNode out = Json.MAPPER.createArrayNode();
        out.addNull();
        for (TokenLogprob t : scores) {
            ObjectNode e = out.addObject();
            e.putObject(Integer.toString(t.token())).put("logprob", t.logprob()).put("rank", t.rank())
                    .put("decoded_token", piece(t.token()));
            for (int k = 0; k < Math.min(top, t.topTokens().length); k++) {
                e.putObject(Integer.toString(t.topTokens()[k])).put("logprob", t.topLogprobs()[k]).put("rank", k + 1)
                        .put("decoded_token", piece(t.topTokens()[k]));
            }
        }
        return out;
    }

    private static ObjectNode emptyLegacy() {
        ObjectNode lp = Json.object();
        lp.putArray("tokens");
        lp.putArray("token_logprobs");
        lp.putArray("top_logprobs");
        lp.putArray("text_offset");
        return lp;
    }

    private String piece(int token) {
        return new String(tokenizer.tokenBytes(token), StandardCharsets.UTF_8);
    }

    private ArrayNode bytes(int token) {
        ArrayNode a = Json.MAPPER.createArrayNode();
        for (byte b : tokenizer.tokenBytes(token)) {
            a.add(b & 0xFF);
        }
        return a;
    }

    /** A choice's last chunk, with its stop string as {@link #putStopReason} puts it. */
    private static ObjectNode finalChunk(ObjectNode chunk, RequestResult r) {
        ObjectNode choice = (ObjectNode) chunk.get("choices").get(0);
        putStopReason(choice, r, choice.get("finish_reason").asText());
        return chunk;
    }

    /** vLLM's {@code stop_reason} beside a "stop" finish: the stop string that ended the choice, when one did. */
    private static void putStopReason(ObjectNode choice, RequestResult r, String finish) {
        if (finish.equals("stop") && r.stopString() != null) {
            choice.put("stop_reason", r.stopString());
        }
    }

    static String finishReason(RequestResult r) {
        return r.reason() == FinishReason.LENGTH ? "length" : "stop";
    }

    /** With tools: "tool_calls" when the model called some, else as without. */
    private static String finishReason(RequestResult r, ToolCalls.Reply reply) {
        return reply.calls().isEmpty() ? finishReason(r) : "tool_calls";
    }

    /** Completion tokens of every choice; prompt tokens of each prompt once (choices i·perPrompt). */
    static ObjectNode usage(List<RequestResult> results, int perPrompt) {
        int completion = 0, prompt = 0, cached = 0;
        for (int i = 0; i < results.size(); i++) {
            RequestResult r = results.get(i);
            completion += r.completionTokens();
            if (i % perPrompt == 0) {
                prompt += r.promptTokens();
                cached += r.cachedTokens();
            }
        }
        ObjectNode u = Json.object();
        u.put("prompt_tokens", prompt);
        u.put("completion_tokens", completion);
        u.put("total_tokens", prompt + completion);
        u.putObject("prompt_tokens_details").put("cached_tokens", cached);
        return u;
    }
}
