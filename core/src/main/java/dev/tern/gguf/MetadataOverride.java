package dev.tern.gguf;

import dev.tern.TernException;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * llama.cpp's {@code --override-kv KEY=TYPE:VALUE}: a metadata value given on the command line, TYPE one of
 * int, float, bool (true/false) and str. Read as the file's own value would be ({@link #value}); llama-quantize
 * writes ints as UINT32 of their magnitude and floats as FLOAT32 ({@link #written}).
 */
public record MetadataOverride(String key, String type, String text) {

    public MetadataOverride {
        if (key.isEmpty() || key.length() > 127) {
            throw new TernException("--override-kv: a key of 1 to 127 characters is needed, got '" + key + "'");
        }
        value(key, type, text);
    }

    /** Parses KEY=TYPE:VALUE, with a one-line error for anything else. */
    public static MetadataOverride parse(String arg) {
        int eq = arg.indexOf('='), colon = eq < 0 ? -1 : arg.indexOf(':', eq);
        if (eq <= 0 || colon < 0) {
            throw new TernException("--override-kv '" + arg + "' is not KEY=TYPE:VALUE (TYPE int, float, bool or str)");
        }
        return new MetadataOverride(arg.substring(0, eq), arg.substring(eq + 1, colon), arg.substring(colon + 1));
    }

    /** The value as loading reads it: int as INT64, float as FLOAT64. */
    public MetadataValue value() {
        return value(key, type, text);
    }

    /** The value as llama-quantize writes it into a file. */
    public MetadataValue written() {
        MetadataValue v = value();
        return switch (type) {
            case "int" -> MetadataValue.ofUInt32(Math.abs((Long) v.value()) & 0xffffffffL);
            case "float" -> MetadataValue.ofFloat32(((Double) v.value()).floatValue());
            default -> v;
        };
    }

    private static MetadataValue value(String key, String type, String text) {
        try {
            return switch (type) {
                case "int" -> new MetadataValue(GGUFValueType.INT64, null, Long.parseLong(text));
                case "float" -> new MetadataValue(GGUFValueType.FLOAT64, null, Double.parseDouble(text));
                case "bool" -> switch (text) {
                    case "true" -> MetadataValue.ofBool(true);
                    case "false" -> MetadataValue.ofBool(false);
                    default -> throw new NumberFormatException();
                };
                case "str" -> MetadataValue.of(text);
                default -> throw new TernException("--override-kv " + key + ": unknown type '" + type + "' (int, float, bool or str)");
            };
        } catch (NumberFormatException e) {
            throw new TernException("--override-kv " + key + ": '" + text + "' is not " + (type.equals("int") ? "an int" : "a " + type));
        }
    }

    /** The values to read in place of a file's, by key (a later override of a key wins). */
    public static Map<String, MetadataValue> asMetadata(List<MetadataOverride> overrides) {
        Map<String, MetadataValue> m = new LinkedHashMap<>();
        overrides.forEach(o -> m.put(o.key(), o.value()));
        return m;
    }
}
