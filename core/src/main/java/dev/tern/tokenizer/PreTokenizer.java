package dev.tern.tokenizer;

import dev.tern.TernException;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text into words before byte-level BPE, with the regexes llama.cpp's llm_tokenizer_bpe
 * chooses for tokenizer.ggml.pre. As in unicode_regex_split, each regex further splits every piece
 * the previous one produced, and text between matches stays a piece of its own. Non-ASCII
 * whitespace is matched as '\u000B' there (std::regex's \s only knows ASCII), so we do the same;
 * and a regex using Unicode categories sees llama.cpp's categories (see {@link LlamaCppUnicode}).
 */
final class PreTokenizer {
    private static final String GPT2 =
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
    private static final String LLAMA3 =
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
                    + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN2 =
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
                    + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String CJK = "[一-龥ࠀ-一가-퟿]+";

    /** The pre-tokenizer names llama.cpp knows, with what they imply for the vocabulary. */
    record Kind(List<Pattern> patterns, boolean ignoreMerges, boolean addBos) {
    }

    private final List<Pattern> patterns;
    private final boolean[] categorical;

    PreTokenizer(List<Pattern> patterns) {
        this.patterns = patterns;
        this.categorical = new boolean[patterns.size()];
        for (int i = 0; i < categorical.length; i++) {
            categorical[i] = usesCategories(patterns.get(i));
        }
    }

    /** llama.cpp's choice of regexes (and ignore_merges / add_bos defaults) for a tokenizer.ggml.pre value. */
    static Kind kind(String pre) {
        String p = pre == null ? "" : pre;
        return switch (p) {
            case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2" ->
                    of(true, true, LLAMA3);
            case "dbrx", "smaug-bpe", "chatglm-bpe", "glm4" -> of(false, false, LLAMA3);
            case "deepseek-llm" -> of(false, false, "[\r\n]",
                    "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
                    "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", CJK, "\\p{N}+");
            case "deepseek-coder" -> of(false, false, "[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", CJK, "\\p{N}");
            case "deepseek-v3", "hunyuan-dense" -> of(false, false, "\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
                    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
                            + "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+");
            case "falcon" -> of(false, false, "[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2, "[0-9][0-9][0-9]");
            case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b" ->
                    of(false, false, "\\p{N}", GPT2);
            case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de",
                 "jina-v2-code", "roberta-bpe", "a.x-4.0", "mellum", "mpt", "olmo", "jais", "trillion",
                 "granite-docling", "exaone4" ->
                    of(false, false, GPT2);
            case "qwen2", "deepseek-r1-qwen", "kormo", "megrez", "stablelm2", "hunyuan", "grok-2" -> of(false, false, QWEN2);
            case "bailingmoe", "bailingmoe2", "llada-moe" -> of(false, false,
                    "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+");
            case "seed-coder" -> of(false, false,
                    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");
            case "poro-chat", "bloom", "gpt3-finnish" -> of(false, false, " ?[^(\\s|.,!?…。，、।۔،)]+");
            case "viking" -> of(false, false, " ?[^(\\s|.,!?…。，、।۔،)]+", "\\p{N}");
            case "tekken" -> of(true, true,
                    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");
            case "gpt-4o", "llama4", "minimax-m2" -> of(false, false,
                    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");
            case "chameleon" -> of(false, true, "<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
                    "([\\t\\n]|    |  )", "\\p{N}", "[\\p{P}!-/:-@\\[-`{-~]", GPT2);
            case "kimi-k2", "afmoe", "superbpe" ->
                    throw new TernException("tokenizer.ggml.pre '" + p + "' needs llama.cpp's hand-written splitter, not supported");
            // llama.cpp warns and falls back to its default regexes for a missing or unknown name.
            default -> of(false, false, "[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]");
        };
    }

    private static Kind of(boolean ignoreMerges, boolean addBos, String... regexes) {
        List<Pattern> ps = new ArrayList<>();
        for (String r : regexes) {
            ps.add(Pattern.compile(r));
        }
        return new Kind(List.copyOf(ps), ignoreMerges, addBos);
    }

    /** The words of text, in order; their concatenation is text. */
    List<String> split(String text) {
        String literal = asciiWhitespace(text);
        String categorised = null;
        List<int[]> pieces = new ArrayList<>();
        pieces.add(new int[]{0, text.length()});
        for (int i = 0; i < patterns.size(); i++) {
            Pattern p = patterns.get(i);
            String matchText = literal;
            if (categorical[i]) {
                categorised = categorised == null ? llamaCppCategories(literal) : categorised;
                matchText = categorised;
            }
            List<int[]> next = new ArrayList<>();
            for (int[] piece : pieces) {
                splitPiece(p, matchText, piece[0], piece[1], next);
            }
            pieces = next;
        }
        List<String> words = new ArrayList<>(pieces.size());
        for (int[] piece : pieces) {
            words.add(text.substring(piece[0], piece[1]));
        }
        return words;
    }

    private static void splitPiece(Pattern p, String s, int start, int end, List<int[]> out) {
        Matcher m = p.matcher(s).region(start, end);
        int pos = start;
        while (m.find()) {
            if (m.end() == m.start()) {
                continue; // std::regex_iterator yields empty matches; they add no piece
            }
            if (m.start() > pos) {
                out.add(new int[]{pos, m.start()});
            }
            out.add(new int[]{m.start(), m.end()});
            pos = m.end();
        }
        if (pos < end) {
            out.add(new int[]{pos, end});
        }
    }

    /** llama.cpp matches such a regex against categories instead of the characters themselves. */
    private static boolean usesCategories(Pattern p) {
        String r = p.pattern();
        return r.contains("\\p{N}") || r.contains("\\p{L}") || r.contains("\\p{P}") || r.contains("\\p{M}")
                || r.contains("\\p{S}");
    }

    /** Swaps characters llama.cpp considers unassigned for noncharacters of the same UTF-16 length. */
    private static String llamaCppCategories(String s) {
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            int n = Character.charCount(cp);
            if (LlamaCppUnicode.unassignedInLlamaCpp(cp)) {
                if (sb == null) {
                    sb = new StringBuilder(s);
                }
                sb.replace(i, i + n, n == 1 ? "\uFFFF" : new String(Character.toChars(0x10FFFF)));
            }
            i += n;
        }
        return sb == null ? s : sb.toString();
    }

    /** Replaces the non-ASCII Unicode White_Space characters with '\u000B', as unicode_regex_split does. */
    private static String asciiWhitespace(String text) {
        char[] c = text.toCharArray();
        for (int i = 0; i < c.length; i++) {
            char ch = c[i];
            if (ch == 0x85 || ch == 0xA0 || ch == 0x1680 || (ch >= 0x2000 && ch <= 0x200A) || ch == 0x2028
                    || ch == 0x2029 || ch == 0x202F || ch == 0x205F || ch == 0x3000) {
                c[i] = '\u000B';
            }
        }
        return new String(c);
    }
}
