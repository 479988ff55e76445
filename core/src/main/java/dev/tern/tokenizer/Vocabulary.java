package dev.tern.tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Token strings, scores and attributes plus the special-token facts llama.cpp's llama_vocab keeps:
 * BOS/EOS, the add flags, the end-of-generation set and the special tokens that split text first.
 */
final class Vocabulary {
    final String[] text;
    final float[] score;
    final int[] attr;
    final Map<String, Integer> ids;
    final int bos;
    final int eos;
    final boolean addBos;
    final boolean addEos;
    final boolean addSpacePrefix;
    private final Set<Integer> eog;
    /** Fill-in-the-middle token ids by {@link FimToken} ordinal, -1 where the vocabulary has none. */
    final int[] fim;
    /** Special/user-defined/unknown token ids, longest text first: the order tokenizer_st_partition tries them. */
    final int[] specialsByLength;

    /**
     * @param eot explicit end-of-turn id or -1 (then found by text as llama.cpp does)
     * @param eom explicit end-of-message id or -1
     * @param fim explicit fill-in-the-middle ids by {@link FimToken} ordinal (-1: found by text), or null
     * @param modelName general.name, which llama.cpp consults for Phi-3's RSTRIP rule
     */
    Vocabulary(String[] text, float[] score, int[] attr, int bos, int eos, int eot, int eom, int[] fim, boolean addBos,
               boolean addEos, boolean addSpacePrefix, String modelName) {
        this.text = text;
        this.score = score;
        this.attr = attr;
        this.ids = new HashMap<>(text.length * 2);
        for (int i = 0; i < text.length; i++) {
            ids.put(text[i], i); // as llama.cpp's token_to_id: a repeated text maps to its last id
        }
        this.bos = bos;
        this.eos = eos;
        this.addBos = addBos;
        this.addEos = addEos;
        this.addSpacePrefix = addSpacePrefix;
        this.fim = new int[FimToken.values().length];
        Arrays.fill(this.fim, -1);
        if (fim != null) {
            System.arraycopy(fim, 0, this.fim, 0, this.fim.length);
        }
        this.eog = SpecialTokenRules.markSpecials(ids, attr, eos, eot, eom, this.fim);
        List<Integer> specials = new ArrayList<>();
        for (int i = 0; i < text.length; i++) {
            if ((attr[i] & (TokenAttr.CONTROL | TokenAttr.USER_DEFINED | TokenAttr.UNKNOWN)) != 0) {
                specials.add(i);
            }
        }
        specials.sort((a, b) -> Integer.compare(utf8Length(text[b]), utf8Length(text[a])));
        this.specialsByLength = specials.stream().mapToInt(Integer::intValue).toArray();
        SpecialTokenRules.applyNameRules(ids, attr, specialsByLength, modelName);
    }

    private static int utf8Length(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    }

    int size() {
        return text.length;
    }

    int id(String t) {
        Integer id = ids.get(t);
        return id == null ? -1 : id;
    }

    boolean isEog(int id) {
        return eog.contains(id);
    }

    boolean has(int id, int bits) {
        return (attr[id] & bits) != 0;
    }
}
