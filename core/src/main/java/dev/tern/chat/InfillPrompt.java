package dev.tern.chat;

import dev.tern.TernException;
import dev.tern.tokenizer.FimToken;
import dev.tern.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A fill-in-the-middle prompt for code models, laid out as llama.cpp's server lays out /infill
 * (repository-level pattern, arXiv 2409.12186):
 * {@code [FIM_REP]myproject\n [FIM_SEP]file\n text … [FIM_SEP]filename\n [BOS] [FIM_PRE]prefix prompt
 * [FIM_SUF]suffix [FIM_MID]}; the model writes the middle. Without FIM_SEP the extra files are joined
 * by a snippet marker instead. Too long a prompt is cut as llama.cpp cuts it, within {@code budget}
 * tokens: the prefix keeps its last three quarters' worth, the suffix its first quarter's (less the
 * prompt), and the extra files the room left, their end kept.
 */
public final class InfillPrompt {
    /** Another file of the project, put before the prefix as context. */
    public record File(String name, String text) {
    }

    private InfillPrompt() {
    }

    /** Whether the vocabulary has the prefix, suffix and middle tokens infilling needs. */
    public static boolean supported(Tokenizer t) {
        return t.fimToken(FimToken.PREFIX) >= 0 && t.fimToken(FimToken.SUFFIX) >= 0 && t.fimToken(FimToken.MIDDLE) >= 0;
    }

    /**
     * The prompt's tokens.
     *
     * @param prompt text already typed at the cursor, continued by the model (may be empty)
     * @param budget most tokens the prompt may take
     */
    public static int[] tokens(Tokenizer t, String prefix, String suffix, List<File> extra, String prompt, int budget) {
        if (!supported(t)) {
            throw new TernException("the model has no fill-in-the-middle tokens (prefix, suffix and middle)");
        }
        int rep = t.fimToken(FimToken.REPO), sep = t.fimToken(FimToken.SEPARATOR);
        List<Integer> context = new ArrayList<>();
        if (rep >= 0) {
            context.add(rep);
            add(context, t.encode("myproject\n", false, false));
        }
        for (File f : extra) {
            if (sep >= 0) {
                context.add(sep);
                add(context, t.encode(f.name() + "\n", false, false));
            } else {
                add(context, t.encode("\n\n--- snippet ---\n\n", false, false));
            }
            add(context, t.encode(f.text(), false, false));
        }
        if (sep >= 0) {
            context.add(sep);
            add(context, t.encode("filename\n", false, false));
        }
        int[] pre = t.encode(prefix, false, false), suf = t.encode(suffix, false, false), typed = t.encode(prompt, false, false);
        int preTake = Math.min(pre.length, 3 * (budget / 4));
        int sufTake = Math.min(suf.length, Math.max(0, budget / 4 - (2 + typed.length)));
        List<Integer> out = new ArrayList<>();
        if (t.addBos() && t.bos() >= 0) {
            out.add(t.bos());
        }
        out.add(t.fimToken(FimToken.PREFIX));
        add(out, Arrays.copyOfRange(pre, pre.length - preTake, pre.length));
        add(out, typed);
        out.add(t.fimToken(FimToken.SUFFIX));
        add(out, Arrays.copyOf(suf, sufTake));
        out.add(t.fimToken(FimToken.MIDDLE));
        int contextTake = Math.min(context.size(), Math.max(0, budget - out.size()));
        List<Integer> all = new ArrayList<>(context.subList(context.size() - contextTake, context.size()));
        all.addAll(out);
        return all.stream().mapToInt(Integer::intValue).toArray();
    }

    private static void add(List<Integer> to, int[] ids) {
        for (int id : ids) {
            to.add(id);
        }
    }
}
