package dev.tern.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tern.TernException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Builds a byte-level BPE tokenizer from a Hugging Face tokenizer.json. The split regex is matched to
 * the llama.cpp pre-tokenizer that converts from it (as convert_hf_to_gguf.py does by hash); BOS/EOS
 * come from tokenizer_config.json beside it when present.
 */
final class TokenizerJsonLoader {
    private static final String LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private TokenizerJsonLoader() {
    }

    static Tokenizer load(Path p) {
        ObjectMapper json = new ObjectMapper();
        JsonNode root;
        JsonNode config;
        try {
            root = json.readTree(p.toFile());
            Path cfg = p.resolveSibling("tokenizer_config.json");
            config = Files.isRegularFile(cfg) ? json.readTree(cfg.toFile()) : json.createObjectNode();
        } catch (IOException e) {
            throw new TernException(p + ": cannot read tokenizer JSON: " + e.getMessage(), e);
        }
        JsonNode model = root.path("model");
        if (!"BPE".equals(model.path("type").asText())) {
            throw new TernException(p + ": unsupported tokenizer model type '" + model.path("type").asText() + "'");
        }
        Map<String, Integer> vocabIds = new HashMap<>();
        model.path("vocab").properties().forEach(e -> vocabIds.put(e.getKey(), e.getValue().asInt()));
        Map<Integer, Boolean> added = new HashMap<>();
        for (JsonNode t : root.path("added_tokens")) {
            vocabIds.put(t.path("content").asText(), t.path("id").asInt());
            added.put(t.path("id").asInt(), t.path("special").asBoolean());
        }
        int n = vocabIds.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        String[] text = new String[n];
        int[] attr = new int[n];
        java.util.Arrays.fill(text, "");
        vocabIds.forEach((t, id) -> {
            text[id] = t;
            Boolean special = added.get(id);
            attr[id] = special == null ? TokenAttr.NORMAL : special ? TokenAttr.CONTROL : TokenAttr.USER_DEFINED;
        });
        Map<String, Integer> ranks = new HashMap<>();
        int rank = 0;
        for (JsonNode m : model.path("merges")) {
            String key = m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText();
            ranks.putIfAbsent(key, rank++);
        }
        PreTokenizer.Kind kind = PreTokenizer.kind(preName(p, root.path("pre_tokenizer")));
        int bos = specialId(config.path("bos_token"), vocabIds);
        int eos = specialId(config.path("eos_token"), vocabIds);
        boolean addBos = config.path("add_bos_token").isBoolean() ? config.path("add_bos_token").asBoolean()
                : kind.addBos() && bos >= 0;
        boolean addEos = config.path("add_eos_token").asBoolean(false);
        Vocabulary v = new Vocabulary(text, new float[n], attr, bos, eos, -1, -1, null, addBos, addEos, false, "");
        boolean ignoreMerges = model.path("ignore_merges").asBoolean(kind.ignoreMerges());
        return new BpeTokenizer(v, new PreTokenizer(kind.patterns()), ranks, ignoreMerges);
    }

    private static String preName(Path p, JsonNode pre) {
        String regex = null;
        boolean byteLevelRegex = false;
        Iterable<JsonNode> steps = pre.has("pretokenizers") ? pre.path("pretokenizers") : java.util.List.of(pre);
        for (JsonNode s : steps) {
            if ("Split".equals(s.path("type").asText())) {
                regex = s.path("pattern").path("Regex").asText(null);
            } else if ("ByteLevel".equals(s.path("type").asText())) {
                byteLevelRegex |= s.path("use_regex").asBoolean(true);
            }
        }
        if (LLAMA3_REGEX.equals(regex)) {
            return "llama-bpe";
        }
        if (QWEN2_REGEX.equals(regex)) {
            return "qwen2";
        }
        if (regex == null && byteLevelRegex) {
            return "gpt-2";
        }
        throw new TernException(p + ": unrecognised pre-tokenizer " + pre);
    }

    private static int specialId(JsonNode token, Map<String, Integer> ids) {
        String t = token.isObject() ? token.path("content").asText(null) : token.isTextual() ? token.asText() : null;
        Integer id = t == null ? null : ids.get(t);
        return id == null ? -1 : id;
    }
}
