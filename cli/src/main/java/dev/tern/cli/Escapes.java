package dev.tern.cli;

/**
 * llama.cpp's escape sequences in text typed on the command line ({@code --escape}, its default):
 * \n, \r, \t, \', \" and \\ become the characters they name; any other backslash stays as it is.
 */
final class Escapes {
    private Escapes() {
    }

    static String process(String text) {
        if (text.indexOf('\\') < 0) {
            return text;
        }
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            char next = i + 1 < text.length() ? text.charAt(i + 1) : 0;
            char meant = c != '\\' ? (char) 0 : switch (next) {
                case 'n' -> '\n';
                case 'r' -> '\r';
                case 't' -> '\t';
                case '\'', '"', '\\' -> next;
                default -> (char) 0;
            };
            if (meant != 0) {
                out.append(meant);
                i++;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
