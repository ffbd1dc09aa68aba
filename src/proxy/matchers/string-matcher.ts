// Envoy's string, regex and header matchers, compiled once per config into plain predicates.
import type { StringMatcher__Output } from "../../xds/generated/envoy/type/matcher/v3/StringMatcher.js";
import type { RegexMatcher__Output } from "../../xds/generated/envoy/type/matcher/v3/RegexMatcher.js";
import type { HeaderMatcher__Output } from "../../xds/generated/envoy/config/route/v3/HeaderMatcher.js";

export type Predicate<T> = (value: T) => boolean;

/** Envoy's safe_regex is RE2 and must match the whole value; RE2 syntax is (nearly) a subset of JavaScript's. */
export function compileRegex(m: RegexMatcher__Output, flags = ""): RegExp {
  // RE2's leading (?i) is JavaScript's "i" flag.
  if (m.regex.startsWith("(?i)")) return new RegExp(`^(?:${m.regex.slice(4)})$`, flags + "i");
  return new RegExp(`^(?:${m.regex})$`, flags);
}

export function compileStringMatcher(m: StringMatcher__Output): Predicate<string> {
  const ic = m.ignore_case;
  switch (m.match_pattern) {
    case "exact": {
      const want = ic ? m.exact!.toLowerCase() : m.exact!;
      return ic ? (v) => v.toLowerCase() === want : (v) => v === want;
    }
    case "prefix": {
      const want = ic ? m.prefix!.toLowerCase() : m.prefix!;
      return ic ? (v) => v.toLowerCase().startsWith(want) : (v) => v.startsWith(want);
    }
    case "suffix": {
      const want = ic ? m.suffix!.toLowerCase() : m.suffix!;
      return ic ? (v) => v.toLowerCase().endsWith(want) : (v) => v.endsWith(want);
    }
    case "contains": {
      const want = ic ? m.contains!.toLowerCase() : m.contains!;
      return ic ? (v) => v.toLowerCase().includes(want) : (v) => v.includes(want);
    }
    case "safe_regex": {
      const re = compileRegex(m.safe_regex!);
      return (v) => re.test(v);
    }
    default:
      // An empty matcher (or an unsupported custom one) matches nothing rather than everything: fail closed.
      return () => false;
  }
}

/** A header getter: the request's value for a lower-case header name, multiple values joined by ",". */
export type HeaderGetter = (name: string) => string | undefined;

/**
 * Envoy's header matching, including its edge cases: a missing header matches nothing (inverted or not) unless
 * `treat_missing_header_as_empty`; present_match compares presence; no specifier means "must be present".
 */
export function compileHeaderMatcher(m: HeaderMatcher__Output): Predicate<HeaderGetter> {
  const name = m.name.toLowerCase();
  const invert = m.invert_match;
  let test: Predicate<string>;
  switch (m.header_match_specifier) {
    case "exact_match": { const w = m.exact_match!; test = (v) => v === w; break; }
    case "prefix_match": { const w = m.prefix_match!; test = (v) => v.startsWith(w); break; }
    case "suffix_match": { const w = m.suffix_match!; test = (v) => v.endsWith(w); break; }
    case "contains_match": { const w = m.contains_match!; test = (v) => v.includes(w); break; }
    case "safe_regex_match": { const re = compileRegex(m.safe_regex_match!); test = (v) => re.test(v); break; }
    case "string_match": test = compileStringMatcher(m.string_match!); break;
    case "range_match": {
      const start = Number(m.range_match!.start), end = Number(m.range_match!.end);
      test = (v) => /^-?\d+$/.test(v) && Number(v) >= start && Number(v) < end;
      break;
    }
    default: {
      const want = m.header_match_specifier === "present_match" ? m.present_match! : true;
      return (get) => (get(name) !== undefined ? want : !want) !== invert;
    }
  }
  const missing = m.treat_missing_header_as_empty;
  return (get) => {
    const v = get(name);
    if (v === undefined) return missing ? test("") !== invert : false;
    return test(v) !== invert;
  };
}
