package dev.tern.sampling;

import dev.tern.TernException;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A stage of llama.cpp's sampler chain, as its {@code --samplers} and llama-server's
 * {@code samplers} name them; the draw always comes last. With Mirostat the order is not used.
 * {@link #ADAPTIVE_P} is not a filter but the draw itself: wherever it is listed, it draws last
 * (adaptive-p in place of the plain draw, as llama.cpp puts it at the end of the chain).
 */
public enum SamplerStage {
    PENALTIES("penalties", 'e'),
    DRY("dry", 'd'),
    TOP_N_SIGMA("top_n_sigma", 's'),
    TOP_K("top_k", 'k'),
    TYPICAL_P("typ_p", 'y'),
    TOP_P("top_p", 'p'),
    MIN_P("min_p", 'm'),
    XTC("xtc", 'x'),
    TEMPERATURE("temperature", 't'),
    ADAPTIVE_P("adaptive_p", 'a'),
    /** Code completion's filter ({@link Infill}); only where listed, as in llama.cpp. */
    INFILL("infill", 'i');

    /** llama.cpp's default order: every stage but adaptive-p and infill, which are only used when listed. */
    public static final List<SamplerStage> DEFAULT = List.of(PENALTIES, DRY, TOP_N_SIGMA, TOP_K, TYPICAL_P, TOP_P, MIN_P, XTC,
            TEMPERATURE);

    private final String canonical;
    private final char letter;

    SamplerStage(String canonical, char letter) {
        this.canonical = canonical;
        this.letter = letter;
    }

    /** llama.cpp's name. */
    public String canonical() {
        return canonical;
    }

    /** A stage by llama.cpp's name or an alias it takes (top-k, topk, nucleus, temp, typ, typical, …). */
    public static SamplerStage named(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        for (SamplerStage s : values()) {
            if (n.equals(s.canonical) || n.equals(s.canonical.replace('_', '-')) || n.equals(s.canonical.replace("_", ""))) {
                return s;
            }
        }
        return switch (n) {
            case "nucleus" -> TOP_P;
            case "temp" -> TEMPERATURE;
            case "typ", "typical", "typical_p", "typical-p", "typicalp" -> TYPICAL_P;
            default -> throw new TernException("unknown sampler '" + name + "' (penalties, dry, top_n_sigma, top_k, typ_p, top_p,"
                    + " min_p, xtc, temperature, adaptive_p, infill)");
        };
    }

    /** An order from names ({@code ;}-separated, as llama.cpp's --samplers). */
    public static List<SamplerStage> parseNames(String names) {
        List<SamplerStage> out = new ArrayList<>();
        for (String n : names.split(";")) {
            if (!n.isBlank()) {
                out.add(named(n));
            }
        }
        return distinct(out);
    }

    /** An order from one letter a stage (llama.cpp's --sampling-seq: e d s k y p m x t a). */
    public static List<SamplerStage> parseLetters(String letters) {
        List<SamplerStage> out = new ArrayList<>();
        for (char c : letters.toCharArray()) {
            SamplerStage found = null;
            for (SamplerStage s : values()) {
                if (s.letter == c) {
                    found = s;
                }
            }
            if (found == null) {
                throw new TernException("unknown sampler letter '" + c + "' (e d s k y p m x t a i)");
            }
            out.add(found);
        }
        return distinct(out);
    }

    /** Checks that no stage comes twice (llama.cpp would run it twice: its draws and penalties too). */
    public static List<SamplerStage> distinct(List<SamplerStage> order) {
        Set<SamplerStage> seen = EnumSet.noneOf(SamplerStage.class);
        for (SamplerStage s : order) {
            if (!seen.add(s)) {
                throw new TernException("sampler '" + s.canonical + "' is listed twice");
            }
        }
        return List.copyOf(order);
    }
}
