package io.mcp.affinity.web;

import org.jspecify.annotations.Nullable;
import org.springframework.cloud.gateway.filter.headers.HttpHeadersFilter;
import org.springframework.core.Ordered;
import org.springframework.http.HttpHeaders;
import org.springframework.web.server.ServerWebExchange;

/**
 * {@link ForwardedHeaderRules} as a WebFlux gateway {@link HttpHeadersFilter}: the header rules of one hop to the
 * owner, for {@link OwnerForwarder}.
 */
public final class ForwardingHeadersFilter implements HttpHeadersFilter, Ordered {

	/** Exchange attribute holding the {@link ForwardedHeaderRules.Marks} of a forward. */
	public static final String MARKS_ATTRIBUTE = ForwardingHeadersFilter.class.getName() + ".marks";

	private final Type type;

	private final @Nullable ForwardedHeaderRules rules;

	private ForwardingHeadersFilter(Type type, @Nullable ForwardedHeaderRules rules) {
		this.type = type;
		this.rules = rules;
	}

	/**
	 * The filter for forwarded requests.
	 * @param trustedProxies regular expression of the client addresses whose {@code X-Forwarded-*} headers are kept and
	 * extended; {@code .*} trusts every client
	 * @return the filter
	 */
	public static ForwardingHeadersFilter forRequests(String trustedProxies) {
		return new ForwardingHeadersFilter(Type.REQUEST, new ForwardedHeaderRules(trustedProxies));
	}

	/**
	 * The filter for the owners' responses.
	 * @return the filter
	 */
	public static ForwardingHeadersFilter forResponses() {
		return new ForwardingHeadersFilter(Type.RESPONSE, null);
	}

	@Override
	public boolean supports(Type type) {
		return this.type == type;
	}

	@Override
	public int getOrder() {
		return 0;
	}

	@Override
	public HttpHeaders filter(HttpHeaders input, ServerWebExchange exchange) {
		if (this.rules == null) {
			return ForwardedHeaderRules.response(input);
		}
		// The routing filter sets Host from the target itself.
		return this.rules.request(input, exchange.getRequest().getRemoteAddress(), exchange.getRequest().getURI(),
				exchange.getAttribute(MARKS_ATTRIBUTE), false);
	}

}
