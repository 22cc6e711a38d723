//! One test per filter, test and Python method against the results Ansible's documentation gives (or, where it
//! gives none, what ansible-core 2.19 prints), rendered through the whole environment so each name is also
//! checked to be registered.

use serde_json::json;

fn render(expression: &str) -> String {
    let context = json!({ "d": {"a": 1, "b": 2}, "users": [{"name": "a"}, {"name": "b"}] });
    super::render_text("doc", expression, &context).unwrap_or_else(|e| panic!("{expression}: {e}"))
}

macro_rules! documented {
    ($($name:ident: $expression:expr => $expected:expr;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(render($expression), $expected, "{}", $expression);
        }
    )*};
}

documented! {
    to_json: "{{ {'a': 1, 'b': [1, 2.5, none]} | to_json }}" => r#"{"a": 1, "b": [1, 2.5, null]}"#;
    to_nice_json: "{{ {'b': 1, 'a': [1]} | to_nice_json }}" => "{\n    \"a\": [\n        1\n    ],\n    \"b\": 1\n}";
    from_json: "{{ ('{\"a\": [7]}' | from_json).a[0] }}" => "7";
    to_yaml: "{{ {'a': [1, 2], 'b': 'x'} | to_yaml }}" => "a: [1, 2]\nb: x\n";
    to_nice_yaml: "{{ {'a': [1, 2], 'b': {'c': 'yes'}} | to_nice_yaml }}" => "a:\n- 1\n- 2\nb:\n    c: 'yes'\n";
    from_yaml: "{{ ('a: {b: 3}' | from_yaml).a.b }}" => "3";
    b64encode: "{{ 'Hello' | b64encode }}" => "SGVsbG8=";
    b64decode: "{{ 'SGVsbG8=' | b64decode }}" => "Hello";
    regex_replace: r"{{ 'ansible' | regex_replace('^a.*i(.*)$', 'a\\1') }}" => "able";
    regex_replace_named: r"{{ 'localhost:80' | regex_replace('^(?P<host>.+):(?P<port>\d+)$', '\\g<host>, \\g<port>') }}" => "localhost, 80";
    regex_search: "{{ 'server1/database42' | regex_search('database[0-9]+') }}" => "database42";
    regex_search_groups: r"{{ 'server1/database42' | regex_search('server([0-9]+)/database([0-9]+)', '\\1', '\\2') }}" => "['1', '42']";
    regex_search_none: "{{ 'ansible' | regex_search('xyz') }}" => "";
    regex_findall: r"{{ 'Some DNS servers are 8.8.8.8 and 8.8.4.4' | regex_findall('\\b(?:[0-9]{1,3}\\.){3}[0-9]{1,3}\\b') }}" => "['8.8.8.8', '8.8.4.4']";
    regex_escape: "{{ '^f.*o(.*)$' | regex_escape }}" => r"\^f\.\*o\(\.\*\)\$";
    hash_sha1: "{{ 'test1' | hash('sha1') }}" => "b444ac06613fc8d63795be9ad0beaf55011936ac";
    hash_md5: "{{ 'test1' | hash('md5') }}" => "5a105e8b9d40e1329780d62ea2265d8a";
    checksum: "{{ 'test2' | checksum }}" => "109f4b3c50d7b0df729d299bc6f8e9ef9066971f";
    md5: "{{ 'test1' | md5 }}" => "5a105e8b9d40e1329780d62ea2265d8a";
    // Ansible 2.19 hashes through passlib, whose default is 656000 rounds (crypt(3)'s was 5000: `rounds=5000`).
    password_hash: "{{ 'secret' | password_hash('sha512', 'mysalt') }}" => "$6$rounds=656000$mysalt$cDA0t8lm/qt.LT6DzpoHxJ.NwTpx.WTkOPwhseSva8pRixDSH2./ffedCjAMbTX1Uo1QNT7jJPJ6FIzU2i59K/";
    password_hash_5000: "{{ 'secret' | password_hash('sha512', 'mysalt', rounds=5000) }}" => "$6$mysalt$UX6P1VKOf6dr0s2pg4pLNvIUB6hLXvP6M5f/Yj9hJgMPdAJ4oArvk5YUD9/XWtk1JOpVwt/JTsczMJr8sFVML1";
    urlsplit: "{{ 'http://user:password@www.acme.com:9000/dir/index.html?query=term#fragment' | urlsplit('hostname') }}" => "www.acme.com";
    combine: "{{ {'a': 1, 'b': 2} | combine({'b': 3}) }}" => "{'a': 1, 'b': 3}";
    combine_recursive: "{{ {'a': {'x': 1}} | combine({'a': {'y': 2}}, recursive=true) }}" => "{'a': {'x': 1, 'y': 2}}";
    dict2items: "{{ {'a': 1} | dict2items }}" => "[{'key': 'a', 'value': 1}]";
    items2dict: "{{ [{'key': 'a', 'value': 1}] | items2dict }}" => "{'a': 1}";
    ternary: "{{ (1 > 0) | ternary('yes', 'no') }} {{ none | ternary('t', 'f', 'n') }}" => "yes n";
    basename: "{{ '/etc/asdf/foo.txt' | basename }}" => "foo.txt";
    dirname: "{{ '/etc/asdf/foo.txt' | dirname }}" => "/etc/asdf";
    quote: "echo {{ 'hello world' | quote }}" => "echo 'hello world'";
    mandatory: "{{ d.a | mandatory }}" => "1";
    union: "{{ [1, 2, 3] | union([2, 3, 4]) }}" => "[1, 2, 3, 4]";
    intersect: "{{ [1, 2, 3] | intersect([2, 3, 4]) }}" => "[2, 3]";
    difference: "{{ [1, 2, 3] | difference([2, 3, 4]) }}" => "[1]";
    symmetric_difference: "{{ [1, 2, 3] | symmetric_difference([2, 3, 4]) }}" => "[1, 4]";
    flatten: "{{ [1, [2, [3, [4]]]] | flatten }} {{ [1, [2, [3]]] | flatten(levels=1) }}" => "[1, 2, 3, 4] [1, 2, [3]]";
    random_seeded: "{{ 60 | random(seed='web1') }} {{ ['a', 'b', 'c'] | random(seed=42) }}" => "52 c";
    comment: "{{ 'Plain style (default)' | comment }}" => "#\n# Plain style (default)\n#";
    comment_c: "{{ 'C style' | comment('c') }}" => "//\n// C style\n//";
    bool_filter: "{{ 'no' | bool }} {{ 'yes' | bool }} {{ 'off' | bool }} {{ '1' | bool }}" => "False True False True";
    ipwrap: "{{ '2001:db8::1' | ansible.utils.ipwrap }} {{ '10.0.0.1' | ipwrap }}" => "[2001:db8::1] 10.0.0.1";
    ipaddr: "{{ '10.233.0.0/18' | ansible.utils.ipaddr('net') | ansible.utils.ipaddr(1) | ansible.utils.ipaddr('address') }}" => "10.233.0.1";
    tojson_sorted: "{{ {'b': 1, 'a': '<&>'} | tojson }}" => r#"{"a": "\u003c\u0026\u003e", "b": 1}"#;
    test_version: "{{ '1.10' is version('1.9', '>=') }} {{ '1.6' is version('1.6', 'lt') }}" => "True False";
    test_match: "{{ 'http://x' is match('http') }} {{ 'see http://x' is match('http') }}" => "True False";
    test_search: "{{ 'see http://x' is search('http') }}" => "True";
    test_regex: "{{ 'abc' is regex('B', ignorecase=true) }}" => "True";
    method_split: "{{ 'a,b'.split(',') }}" => "['a', 'b']";
    method_items: "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}" => "a=1;b=2;";
    method_get: "{{ d.get('a') }} {{ d.get('z', 'none') }}" => "1 none";
    method_keys: "{{ d.keys() | list }}" => "['a', 'b']";
    method_startswith: "{{ 'kube'.startswith('ku') }}" => "True";
    method_replace: "{{ 'a-b'.replace('-', '_') }}" => "a_b";
    method_upper: "{{ 'abc'.upper() }}" => "ABC";
    method_rstrip: "[{{ 'x  '.rstrip() }}]" => "[x]";
    none_prints_empty: "[{{ none }}]" => "[]";
    tuple_loop: "{% for x in ('a', 'b') %}{{ x }}{% endfor %}" => "ab";
}
