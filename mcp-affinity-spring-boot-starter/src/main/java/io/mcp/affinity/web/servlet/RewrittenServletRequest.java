package io.mcp.affinity.web.servlet;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URLEncoder;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.mcp.affinity.web.McpHttpHeaders;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import org.jspecify.annotations.Nullable;
import org.springframework.web.util.UriComponentsBuilder;

/**
 * A request as the next step must see it: with another body (the guarded stream a forward relays, or the bytes the
 * affinity layer already read for the local handler), and, for the local MCP transport, naming the session by the id
 * the transport minted rather than the one the client sent. Everything else is the original's.
 */
final class RewrittenServletRequest extends HttpServletRequestWrapper {

	private final ServletInputStream body;

	private final @Nullable String sessionId;

	private RewrittenServletRequest(HttpServletRequest request, ServletInputStream body, @Nullable String sessionId) {
		super(request);
		this.body = body;
		this.sessionId = sessionId;
	}

	/** The request with its body read through the affinity layer's limits, as it streams. */
	static RewrittenServletRequest guarded(HttpServletRequest request, long limit) throws IOException {
		return new RewrittenServletRequest(request, new GuardedRequestBody(request.getInputStream(), limit), null);
	}

	/**
	 * The request with a body already read, naming the session as the transport knows it.
	 * @param request the request
	 * @param body the body
	 * @param transportId the transport's id of the session, or {@code null} to leave the session as the client named it
	 */
	static RewrittenServletRequest read(HttpServletRequest request, byte[] body, @Nullable String transportId) {
		return new RewrittenServletRequest(request, new BytesBody(body), transportId);
	}

	@Override
	public ServletInputStream getInputStream() {
		return this.body;
	}

	@Override
	public BufferedReader getReader() {
		String encoding = getCharacterEncoding();
		Charset charset = (encoding != null) ? Charset.forName(encoding) : StandardCharsets.UTF_8;
		return new BufferedReader(new InputStreamReader(this.body, charset));
	}

	@Override
	public @Nullable String getHeader(String name) {
		String header = super.getHeader(name);
		return (this.sessionId != null && header != null && McpHttpHeaders.SESSION_ID.equalsIgnoreCase(name))
				? this.sessionId : header;
	}

	@Override
	public Enumeration<String> getHeaders(String name) {
		if (this.sessionId != null && McpHttpHeaders.SESSION_ID.equalsIgnoreCase(name)
				&& super.getHeader(name) != null) {
			return Collections.enumeration(List.of(this.sessionId));
		}
		return super.getHeaders(name);
	}

	@Override
	public @Nullable String getParameter(String name) {
		String value = super.getParameter(name);
		return (this.sessionId != null && value != null && McpHttpHeaders.LEGACY_SESSION_PARAMETER.equals(name))
				? this.sessionId : value;
	}

	@Override
	public Map<String, String[]> getParameterMap() {
		Map<String, String[]> parameters = super.getParameterMap();
		if (this.sessionId == null || !parameters.containsKey(McpHttpHeaders.LEGACY_SESSION_PARAMETER)) {
			return parameters;
		}
		Map<String, String[]> rewritten = new LinkedHashMap<>(parameters);
		rewritten.put(McpHttpHeaders.LEGACY_SESSION_PARAMETER, new String[] { this.sessionId });
		return Collections.unmodifiableMap(rewritten);
	}

	@Override
	public String @Nullable [] getParameterValues(String name) {
		String[] values = super.getParameterValues(name);
		return (this.sessionId != null && values != null && McpHttpHeaders.LEGACY_SESSION_PARAMETER.equals(name))
				? new String[] { this.sessionId } : values;
	}

	@Override
	public @Nullable String getQueryString() {
		String query = super.getQueryString();
		if (this.sessionId == null || query == null || !query.contains(McpHttpHeaders.LEGACY_SESSION_PARAMETER)) {
			return query;
		}
		return UriComponentsBuilder.newInstance()
			.query(query)
			.replaceQueryParam(McpHttpHeaders.LEGACY_SESSION_PARAMETER,
					URLEncoder.encode(this.sessionId, StandardCharsets.UTF_8))
			.build(true)
			.getQuery();
	}

	/** A body already read. */
	private static final class BytesBody extends ServletInputStream {

		private final ByteArrayInputStream bytes;

		BytesBody(byte[] body) {
			this.bytes = new ByteArrayInputStream(body);
		}

		@Override
		public int read() {
			return this.bytes.read();
		}

		@Override
		public int read(byte[] buffer, int offset, int length) {
			return this.bytes.read(buffer, offset, length);
		}

		@Override
		public boolean isFinished() {
			return this.bytes.available() == 0;
		}

		@Override
		public boolean isReady() {
			return true;
		}

		@Override
		public void setReadListener(ReadListener readListener) {
			throw new IllegalStateException("A body already read is not read asynchronously");
		}

	}

}
