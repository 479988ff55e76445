package dev.tern.tokenizer;

import dev.tern.TernException;
import dev.tern.gguf.GGUFFile;

import java.util.HashMap;
import java.util.Map;

/** Builds a tokenizer from a GGUF file's tokenizer.ggml.* metadata, with llama.cpp's defaults. */
final class GgufTokenizerLoader {
    private GgufTokenizerLoader() {
    }

    static Tokenizer load(GGUFFile f) {
        String model = f.getString("tokenizer.ggml.model", null);
        if (model == null) {
            throw new TernException(f.path() + ": no tokenizer.ggml.model metadata");
        }
        String[] tokens = f.getStringArray("tokenizer.ggml.tokens").clone();
        int n = tokens.length;
        for (int i = 0; i < n; i++) {
            if (tokens[i].isEmpty()) {
                tokens[i] = "[EMPTY_" + i + "]"; // llama.cpp's name for an empty vocabulary entry
            }
        }
        float[] scores = f.has("tokenizer.ggml.scores") ? f.getFloatArray("tokenizer.ggml.scores") : new float[n];
        int[] attr = new int[n];
        if (f.has("tokenizer.ggml.token_type")) {
            int[] types = f.getIntArray("tokenizer.ggml.token_type");
            for (int i = 0; i < n; i++) {
                attr[i] = TokenAttr.fromTokenType(types[i]);
            }
        } else {
            java.util.Arrays.fill(attr, TokenAttr.NORMAL);
        }
        String name = f.getString("general.name", "");
        return switch (model) {
            case "llama" -> new SpmTokenizer(new Vocabulary(tokens, scores, attr,
                    id(f, "bos", 1), id(f, "eos", 2), id(f, "eot", -1), id(f, "eom", -1), fim(f),
                    f.getBoolean("tokenizer.ggml.add_bos_token", true),
                    f.getBoolean("tokenizer.ggml.add_eos_token", false),
                    f.getBoolean("tokenizer.ggml.add_space_prefix", true), name));
            case "gpt2" -> {
                PreTokenizer.Kind kind = PreTokenizer.kind(f.getString("tokenizer.ggml.pre", "default"));
                Vocabulary v = new Vocabulary(tokens, scores, attr,
                        id(f, "bos", 11), id(f, "eos", 11), id(f, "eot", -1), id(f, "eom", -1), fim(f),
                        f.getBoolean("tokenizer.ggml.add_bos_token", kind.addBos()),
                        f.getBoolean("tokenizer.ggml.add_eos_token", false),
                        f.getBoolean("tokenizer.ggml.add_space_prefix", false), name);
                yield new BpeTokenizer(v, new PreTokenizer(kind.patterns()), ranks(f), kind.ignoreMerges());
            }
            default -> throw new TernException(f.path() + ": unsupported tokenizer.ggml.model '" + model + "'");
        };
    }

    /** The fill-in-the-middle ids the metadata names, -1 for the others (llama.cpp then looks them up by text). */
    private static int[] fim(GGUFFile f) {
        int[] ids = new int[FimToken.values().length];
        for (FimToken t : FimToken.values()) {
            ids[t.ordinal()] = id(f, t.key, -1);
        }
        return ids;
    }

    /** A special token id; absent keys take llama.cpp's default, and -1 stored as uint32 means none. */
    private static int id(GGUFFile f, String what, int fallback) {
        String key = "tokenizer.ggml." + what + "_token_id";
        if (!f.has(key)) {
            return fallback;
        }
        long v = f.getLong(key);
        return v < 0 || v >= f.metadata().get("tokenizer.ggml.tokens").length() ? -1 : (int) v;
    }

    private static Map<String, Integer> ranks(GGUFFile f) {
        if (!f.has("tokenizer.ggml.merges")) {
            throw new TernException(f.path() + ": BPE vocabulary without tokenizer.ggml.merges");
        }
        String[] merges = f.getStringArray("tokenizer.ggml.merges");
        Map<String, Integer> ranks = new HashMap<>(merges.length * 2);
        for (int i = 0; i < merges.length; i++) {
            ranks.putIfAbsent(merges[i], i);
        }
        return ranks;
    }
}
