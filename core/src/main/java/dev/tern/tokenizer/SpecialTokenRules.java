package dev.tern.tokenizer;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The special-token facts llama.cpp's vocabulary loader derives from token texts and the model's
 * name rather than from the file: end-of-turn, fill-in-the-middle and end-of-generation tokens (made
 * control tokens), gpt-oss's always-rendered tokens, and Phi-3's whitespace stripping.
 */
final class SpecialTokenRules {
    /** Texts by which llama.cpp recognises end-of-generation tokens (llama-vocab.cpp). */
    private static final Set<String> EOG_TEXTS = Set.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>",
            "<|call|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>",
            "<end_of_utterance>");
    private static final Set<String> EOT_TEXTS = Set.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
            "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>", "<end_of_utterance>");

    /** Fill-in-the-middle tokens llama.cpp recognises by text; it marks them control, the last three end generation. */
    private static final List<List<String>> FIM_TEXTS = List.of(
            List.of("<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>"),
            List.of("<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>"),
            List.of("<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>"),
            List.of("<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"),
            List.of("<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"),
            List.of("<|file_sep|>"));
    /** gpt-oss (o200k_harmony) tokens llama.cpp always renders, as user-defined. */
    private static final List<String> HARMONY_USER_DEFINED = List.of("<|channel|>", "<|message|>", "<|start|>", "<|constrain|>");

    private SpecialTokenRules() {
    }

    /**
     * Marks the tokens llama.cpp recognises by text as control tokens and returns the end-of-generation set.
     *
     * @param eot explicit end-of-turn id or -1 (then found by text)
     * @param eom explicit end-of-message id or -1
     * @param fim explicit fill-in-the-middle ids by {@link FimToken} ordinal, -1 where none (then found by
     *            text); the ids used are written back
     */
    static Set<Integer> markSpecials(Map<String, Integer> ids, int[] attr, int eos, int eot, int eom, int[] fim) {
        Set<Integer> eog = new HashSet<>();
        if (eot < 0) {
            for (String t : EOT_TEXTS) {
                Integer id = ids.get(t);
                if (id != null) {
                    eot = id;
                    attr[id] = asControl(attr[id]);
                    break;
                }
            }
        }
        for (int kind = 0; kind < FIM_TEXTS.size(); kind++) {
            for (String t : FIM_TEXTS.get(kind)) {
                Integer id = ids.get(t);
                if (fim[kind] < 0 && id != null) {
                    fim[kind] = id;
                }
            }
            if (fim[kind] >= 0) {
                attr[fim[kind]] = asControl(attr[fim[kind]]);
                if (kind >= FimToken.PAD.ordinal()) {
                    eog.add(fim[kind]);
                }
            }
        }
        for (String t : EOG_TEXTS) {
            Integer id = ids.get(t);
            if (id != null) {
                eog.add(id);
                attr[id] = asControl(attr[id]);
            }
        }
        for (String t : HARMONY_USER_DEFINED) {
            Integer id = ids.get(t);
            if (id != null) {
                attr[id] = TokenAttr.USER_DEFINED;
            }
        }
        for (int id : new int[]{eos, eot, eom}) {
            if (id >= 0) {
                eog.add(id);
            }
        }
        Integer end = ids.get("<|end|>");
        if (end != null && eog.contains(end) && ids.containsKey("<|return|>") && ids.containsKey("<|call|>")
                && eog.contains(ids.get("<|return|>")) && eog.contains(ids.get("<|call|>"))) {
            // o200k_harmony: <|end|> closes a message, not the generation.
            eog.remove(end);
            attr[end] = TokenAttr.USER_DEFINED;
        }
        return eog;
    }

    /** llama.cpp keys this on general.name: whitespace after Phi-3's specials is dropped. */
    static void applyNameRules(Map<String, Integer> ids, int[] attr, int[] specials, String modelName) {
        String name = modelName == null ? "" : modelName.toLowerCase();
        if (!name.contains("phi-3") && !name.contains("phi3")) {
            return;
        }
        for (int id : specials) {
            attr[id] |= TokenAttr.RSTRIP;
        }
        setRstrip(ids, attr, "</s>", true);
        for (String t : List.of("<unk>", "<s>", "<|endoftext|>")) {
            setRstrip(ids, attr, t, false);
        }
    }

    private static void setRstrip(Map<String, Integer> ids, int[] attr, String t, boolean on) {
        Integer id = ids.get(t);
        if (id != null) {
            attr[id] = on ? attr[id] | TokenAttr.RSTRIP : attr[id] & ~TokenAttr.RSTRIP;
        }
    }

    private static int asControl(int a) {
        return (a & TokenAttr.CONTROL) != 0 ? a : TokenAttr.CONTROL;
    }
}
