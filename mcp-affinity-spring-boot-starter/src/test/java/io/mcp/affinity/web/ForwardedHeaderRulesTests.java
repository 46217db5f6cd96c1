package io.mcp.affinity.web;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;
import org.springframework.mock.web.server.MockServerWebExchange;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The header rules of a forward, one request at a time (the forwarding tests cover them end to end).
 */
class ForwardedHeaderRulesTests {

	private final ForwardedHeaderRules rules = new ForwardedHeaderRules(".*");

	@Test
	void dropsHopByHopHeadersAndThoseTheConnectionHeaderNames() {
		MockServerWebExchange exchange = exchange(MockServerHttpRequest.post("http://mcp.example/mcp")
			.header("Connection", "keep-alive, X-Private")
			.header("Keep-Alive", "timeout=5")
			.header("x-private", "hop")
			.header("proxy-authorization", "Basic eA==")
			.header("TE", "trailers")
			.header("Upgrade", "h2c")
			.header("Authorization", "Bearer token")
			.header("Mcp-Session-Id", "abc")
			.header("MCP-Protocol-Version", "2025-06-18"));

		HttpHeaders filtered = request(this.rules, exchange, null);

		assertThat(filtered.headerNames()).doesNotContain("Connection", "Keep-Alive", "x-private",
				"proxy-authorization", "TE", "Upgrade");
		assertThat(filtered.getFirst("Authorization")).isEqualTo("Bearer token");
		assertThat(filtered.getFirst("Mcp-Session-Id")).isEqualTo("abc");
		assertThat(filtered.getFirst("MCP-Protocol-Version")).isEqualTo("2025-06-18");
	}

	@Test
	void appendsXForwardedHeadersToThoseOfATrustedProxy() {
		MockServerWebExchange exchange = exchange(MockServerHttpRequest.post("https://mcp.example:8443/mcp")
			.remoteAddress(new InetSocketAddress("10.0.0.7", 51000))
			.header("X-Forwarded-For", "203.0.113.9")
			.header("X-Forwarded-Proto", "https"));

		HttpHeaders filtered = request(this.rules, exchange, null);

		assertThat(filtered.get("X-Forwarded-For")).containsExactly("203.0.113.9,10.0.0.7");
		assertThat(filtered.get("X-Forwarded-Proto")).containsExactly("https,https");
		assertThat(filtered.get("X-Forwarded-Host")).containsExactly("mcp.example:8443");
		assertThat(filtered.get("X-Forwarded-Port")).containsExactly("8443");
	}

	@Test
	void addsNoXForwardedHeadersForAnUntrustedClient() {
		ForwardedHeaderRules untrusting = new ForwardedHeaderRules("10\\..*");
		MockServerWebExchange exchange = exchange(MockServerHttpRequest.post("http://mcp.example/mcp")
			.remoteAddress(new InetSocketAddress("198.51.100.4", 51000))
			.header("X-Forwarded-For", "203.0.113.9"));

		HttpHeaders filtered = request(untrusting, exchange, null);

		assertThat(filtered.get("X-Forwarded-For")).containsExactly("203.0.113.9");
		assertThat(filtered.headerNames()).doesNotContain("X-Forwarded-Proto", "X-Forwarded-Host");
	}

	@Test
	void theForwardsMarksReplaceWhatTheClientSentUnderTheirNames() {
		MockServerWebExchange exchange = exchange(MockServerHttpRequest.post("http://mcp.example/mcp")
			.header(McpHttpHeaders.FORWARDED_BY, "spoofed")
			.header(McpHttpHeaders.SIGNATURE, "t=1,s=spoofed"));

		HttpHeaders filtered = request(this.rules, exchange, new ForwardedHeaderRules.Marks("epoch-1", null));

		assertThat(filtered.get(McpHttpHeaders.FORWARDED_BY)).containsExactly("epoch-1");
		assertThat(filtered.headerNames()).doesNotContain(McpHttpHeaders.SIGNATURE);
	}

	@Test
	void aChunkedRequestLosesItsContentLength() {
		MockServerWebExchange exchange = exchange(MockServerHttpRequest.post("http://mcp.example/mcp")
			.header("Transfer-Encoding", "chunked")
			.header("Content-Length", "12"));

		HttpHeaders filtered = request(this.rules, exchange, null);

		assertThat(filtered.headerNames()).doesNotContain("Transfer-Encoding", "Content-Length");
	}

	@Test
	void responsesLoseOnlyHopByHopHeaders() {
		HttpHeaders owner = new HttpHeaders();
		owner.add("Transfer-Encoding", "chunked");
		owner.add("Connection", "keep-alive");
		owner.add("Content-Type", "text/event-stream");
		owner.add("Mcp-Session-Id", "abc");

		HttpHeaders filtered = ForwardedHeaderRules.response(owner);

		assertThat(filtered.headerNames()).containsExactlyInAnyOrder("Content-Type", "Mcp-Session-Id");
		assertThat(filtered.headerNames()).doesNotContain("X-Forwarded-For");
	}

	@Test
	void responseHeadersNamedByConnectionStopHereAndTheRestJoinTheRelayedOnes() {
		HttpHeaders owner = new HttpHeaders();
		owner.add("Connection", "close, X-Owner-Hop");
		owner.add("X-Owner-Hop", "1");
		owner.add("Keep-Alive", "timeout=5");
		owner.add("Set-Cookie", "a=1");
		owner.add("Set-Cookie", "b=2");
		HttpHeaders relayed = new HttpHeaders();
		relayed.add("Set-Cookie", "already=0");

		ForwardedHeaderRules.response(HttpHeaders.readOnlyHttpHeaders(owner), relayed);

		assertThat(relayed.headerNames()).containsExactly("Set-Cookie");
		assertThat(relayed.get("Set-Cookie")).containsExactly("already=0", "a=1", "b=2");
	}

	private static HttpHeaders request(ForwardedHeaderRules rules, MockServerWebExchange exchange,
			ForwardedHeaderRules.@Nullable Marks marks) {
		return rules.request(exchange.getRequest().getHeaders(), exchange.getRequest().getRemoteAddress(),
				exchange.getRequest().getURI(), marks, false);
	}

	@Test
	void theHostIsDroppedForAClientThatSetsItFromTheTarget() {
		MockServerWebExchange exchange = exchange(MockServerHttpRequest.post("http://mcp.example/mcp")
			.header("Host", "mcp.example")
			.header("User-Agent", "client/1"));
		List<String> written = new ArrayList<>();

		this.rules.request(exchange.getRequest().getHeaders(), null, exchange.getRequest().getURI(), null, true,
				(name, value) -> written.add(name + ": " + value));

		assertThat(written).contains("User-Agent: client/1", "X-Forwarded-Host: mcp.example")
			.noneMatch((header) -> header.startsWith("Host:"));
	}

	private static MockServerWebExchange exchange(MockServerHttpRequest.BaseBuilder<?> request) {
		return MockServerWebExchange.from(request);
	}

}
