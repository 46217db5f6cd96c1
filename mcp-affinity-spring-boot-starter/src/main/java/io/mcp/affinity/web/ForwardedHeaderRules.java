package io.mcp.affinity.web;

import java.net.InetSocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Pattern;

import org.jspecify.annotations.Nullable;
import org.springframework.http.HttpHeaders;
import org.springframework.util.StringUtils;

/**
 * The header rules of one hop to the owner, on either stack, applied in a single pass over the headers: hop-by-hop
 * headers (and those the {@code Connection} header names) are dropped in both directions, a request's
 * {@code Content-Length} is dropped when it is also chunked, and {@code X-Forwarded-For/Proto/Host/Port} are appended
 * when the client is a trusted proxy. Everything else, {@code Authorization} and the MCP headers among them, passes
 * unchanged.
 * <p>
 * The same rules as the gateway's {@code RemoveHopByHopHeadersFilter}, {@code XForwardedHeadersFilter} and
 * {@code TransferEncodingNormalizationHeadersFilter} together, at a fraction of their cost: those copy the headers
 * once each and lower-case every name, which the benchmark's profile of a forward showed as a tenth of its CPU.
 * {@code X-Forwarded-Prefix} is never written: a forward keeps the request's path.
 */
public final class ForwardedHeaderRules {

	// Hop-by-hop headers (RFC 9110 section 7.6.1), plus Proxy-Connection and Spring's X-Application-Context.
	private static final String[] HOP_BY_HOP = { "Connection", "Keep-Alive", "Transfer-Encoding", "TE", "Trailer",
			"Upgrade", "Proxy-Authorization", "Proxy-Authenticate", "Proxy-Connection", "X-Application-Context" };

	private static final String X_FORWARDED_FOR = "X-Forwarded-For";

	private static final String X_FORWARDED_PROTO = "X-Forwarded-Proto";

	private static final String X_FORWARDED_HOST = "X-Forwarded-Host";

	private static final String X_FORWARDED_PORT = "X-Forwarded-Port";

	private final @Nullable Predicate<String> trustedProxies;

	/**
	 * Creates the rules.
	 * @param trustedProxies regular expression of the client addresses whose {@code X-Forwarded-*} headers are kept and
	 * extended; {@code .*} trusts every client
	 */
	public ForwardedHeaderRules(String trustedProxies) {
		if (!StringUtils.hasText(trustedProxies)) {
			throw new IllegalArgumentException("trustedProxies must not be empty");
		}
		// Matching a pattern per value is measurable per forward: ".*", the default, skips it.
		this.trustedProxies = ".*".equals(trustedProxies) ? null : Pattern.compile(trustedProxies).asMatchPredicate();
	}

	/**
	 * The headers of a forwarded request.
	 * @param input the client's request headers
	 * @param client the client's address, if known
	 * @param uri the request's URI as the client sent it
	 * @param marks what marks the request as a forward from this instance, or {@code null}
	 * @param dropHost whether to drop {@code Host} too (for a client that sets it from the target itself)
	 * @return the headers to send to the owner
	 */
	public HttpHeaders request(HttpHeaders input, @Nullable InetSocketAddress client, URI uri, @Nullable Marks marks,
			boolean dropHost) {
		HttpHeaders filtered = new HttpHeaders();
		request(input, client, uri, marks, dropHost, filtered::add);
		return filtered;
	}

	/**
	 * The headers of a forwarded request, written one value at a time into the client's own headers: no copy between.
	 * @param input the client's request headers
	 * @param client the client's address, if known
	 * @param uri the request's URI as the client sent it
	 * @param marks what marks the request as a forward from this instance, or {@code null}
	 * @param dropHost whether to drop {@code Host} too (for a client that sets it from the target itself)
	 * @param output receives each header name and value to send to the owner
	 */
	public void request(HttpHeaders input, @Nullable InetSocketAddress client, URI uri, @Nullable Marks marks,
			boolean dropHost, BiConsumer<String, String> output) {
		request((each) -> input.forEach((name, values) -> values.forEach((value) -> each.accept(name, value))),
				(name) -> valuesOrEmpty(input.get(name)), client, uri, marks, dropHost, output);
	}

	/**
	 * The headers of a forwarded request, read from a server's own header structure and written one value at a time
	 * into the client's: no copy between.
	 * @param input the client's request headers, one entry per value
	 * @param values all values of a header by name, case-insensitively; empty when absent
	 * @param client the client's address, if known
	 * @param uri the request's URI as the client sent it
	 * @param marks what marks the request as a forward from this instance, or {@code null}
	 * @param dropHost whether to drop {@code Host} too (for a client that sets it from the target itself)
	 * @param output receives each header name and value to send to the owner
	 */
	public void request(Iterable<? extends Map.Entry<String, String>> input, Function<String, List<String>> values,
			@Nullable InetSocketAddress client, URI uri, @Nullable Marks marks, boolean dropHost,
			BiConsumer<String, String> output) {
		request((each) -> input.forEach((header) -> each.accept(header.getKey(), header.getValue())), values, client,
				uri, marks, dropHost, output);
	}

	/**
	 * The headers of a forwarded request, read from whatever structure holds them and written one value at a time
	 * into the client's: no copy between.
	 * @param input hands each name and value of the client's request headers to the consumer it is given
	 * @param values all values of a header by name, case-insensitively; empty when absent
	 * @param client the client's address, if known
	 * @param uri the request's URI as the client sent it
	 * @param marks what marks the request as a forward from this instance, or {@code null}
	 * @param dropHost whether to drop {@code Host} too (for a client that sets it from the target itself)
	 * @param output receives each header name and value to send to the owner
	 */
	public void request(Consumer<BiConsumer<String, String>> input, Function<String, List<String>> values,
			@Nullable InetSocketAddress client, URI uri, @Nullable Marks marks, boolean dropHost,
			BiConsumer<String, String> output) {
		List<String> connectionOptions = options(values.apply(HttpHeaders.CONNECTION));
		List<String> transferEncoding = values.apply(HttpHeaders.TRANSFER_ENCODING);
		boolean dropContentLength = !transferEncoding.isEmpty() && isChunked(transferEncoding.get(0));
		// An untrusted client's own X-Forwarded-* are passed on as they came, none added: the gateway's rule.
		boolean extendForwarded = client == null || isTrusted(client.getHostString());
		input.accept((name, value) -> {
			if (!isHopByHop(name, connectionOptions) && !isMark(name)
					&& !(dropContentLength && name.equalsIgnoreCase(HttpHeaders.CONTENT_LENGTH))
					&& !(dropHost && name.equalsIgnoreCase(HttpHeaders.HOST))
					&& !(extendForwarded && isForwardedHeader(name))) {
				output.accept(name, value);
			}
		});
		if (extendForwarded) {
			addForwardedHeaders(values, client, uri, output);
		}
		if (marks != null) {
			output.accept(McpHttpHeaders.FORWARDED_BY, marks.forwardedBy());
			if (marks.signature() != null) {
				output.accept(McpHttpHeaders.SIGNATURE, marks.signature());
			}
		}
	}

	private static List<String> valuesOrEmpty(@Nullable List<String> values) {
		return (values != null) ? values : List.of();
	}

	/**
	 * The options a {@code Connection} header names, one per element.
	 * @param connectionValues the header's values, each a comma-separated list
	 * @return the options
	 */
	public static List<String> options(List<String> connectionValues) {
		if (connectionValues.isEmpty()) {
			return connectionValues;
		}
		List<String> options = new ArrayList<>();
		for (String value : connectionValues) {
			for (String option : value.split(",")) {
				options.add(option.trim());
			}
		}
		return options;
	}

	/**
	 * The headers of an owner's response, as the client gets them.
	 * @param input the owner's response headers
	 * @return the headers to relay
	 */
	public static HttpHeaders response(HttpHeaders input) {
		HttpHeaders filtered = new HttpHeaders();
		response(input, filtered);
		return filtered;
	}

	/**
	 * The headers of an owner's response, as the client gets them, added to the given ones: one pass, no copy between
	 * (the response headers a client library exposes are often a view that builds each name's values on demand).
	 * @param input the owner's response headers
	 * @param output receives the headers to relay
	 */
	public static void response(HttpHeaders input, HttpHeaders output) {
		List<String> connection = input.get(HttpHeaders.CONNECTION);
		List<String> connectionOptions = (connection != null) ? options(connection) : List.of();
		input.forEach((name, values) -> {
			if (!isHopByHop(name, connectionOptions)) {
				output.addAll(name, values);
			}
		});
	}

	/**
	 * Whether a header stops at this hop: a hop-by-hop header, or one the message's {@code Connection} header names.
	 * @param name the header name
	 * @param connectionOptions the values of the message's {@code Connection} header
	 * @return whether to drop it
	 */
	public static boolean isHopByHop(String name, List<String> connectionOptions) {
		for (String hopByHop : HOP_BY_HOP) {
			if (hopByHop.equalsIgnoreCase(name)) {
				return true;
			}
		}
		for (String option : connectionOptions) {
			if (option.trim().equalsIgnoreCase(name)) {
				return true;
			}
		}
		return false;
	}

	private static boolean isMark(String name) {
		return name.equalsIgnoreCase(McpHttpHeaders.FORWARDED_BY) || name.equalsIgnoreCase(McpHttpHeaders.SIGNATURE);
	}

	private static boolean isForwardedHeader(String name) {
		return name.equalsIgnoreCase(X_FORWARDED_FOR) || name.equalsIgnoreCase(X_FORWARDED_PROTO)
				|| name.equalsIgnoreCase(X_FORWARDED_HOST) || name.equalsIgnoreCase(X_FORWARDED_PORT);
	}

	private void addForwardedHeaders(Function<String, List<String>> input, @Nullable InetSocketAddress remote, URI uri,
			BiConsumer<String, String> output) {
		String client = (remote != null && remote.getAddress() != null) ? remote.getHostString() : null;
		String scheme = uri.getScheme();
		int port = (uri.getPort() >= 0) ? uri.getPort() : ("https".equals(scheme) ? 443 : 80);
		boolean defaultPort = uri.getPort() < 0 || ("http".equals(scheme) && port == 80)
				|| ("https".equals(scheme) && port == 443);
		append(input, X_FORWARDED_FOR, client, true, output);
		append(input, X_FORWARDED_PROTO, scheme, false, output);
		append(input, X_FORWARDED_PORT, String.valueOf(port), false, output);
		append(input, X_FORWARDED_HOST, defaultPort ? uri.getHost() : uri.getHost() + ":" + port, false, output);
	}

	/** Appends a value to a list header, kept as one comma-separated value; earlier addresses only if trusted. */
	private void append(Function<String, List<String>> input, String name, @Nullable String value, boolean addresses,
			BiConsumer<String, String> output) {
		List<String> earlier = input.apply(name);
		if (earlier.isEmpty()) {
			if (value != null) {
				output.accept(name, value);
			}
			return;
		}
		List<String> values = new ArrayList<>(earlier.size() + 1);
		for (String earlierValue : earlier) {
			if (!addresses || isTrusted(earlierValue)) {
				values.add(earlierValue);
			}
		}
		if (value != null) {
			values.add(value);
		}
		if (!values.isEmpty()) {
			output.accept(name, String.join(",", values));
		}
	}

	private boolean isTrusted(String address) {
		return this.trustedProxies == null || this.trustedProxies.test(address);
	}

	private static boolean isChunked(@Nullable String transferEncoding) {
		return transferEncoding != null && transferEncoding.trim().equalsIgnoreCase("chunked");
	}

	/**
	 * What marks a request as a forward from this instance.
	 * @param forwardedBy the forwarding instance's epoch
	 * @param signature the signature header value, or {@code null} when forwards are not signed
	 */
	public record Marks(String forwardedBy, @Nullable String signature) {
	}

}
