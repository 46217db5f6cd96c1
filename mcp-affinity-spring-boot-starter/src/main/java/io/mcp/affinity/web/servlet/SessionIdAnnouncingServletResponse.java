package io.mcp.affinity.web.servlet;

import io.mcp.affinity.web.McpHttpHeaders;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * The response that created a session (the answer to {@code initialize}), unchanged except for the
 * {@code Mcp-Session-Id} it announces: the id the client must use instead of the transport's own.
 */
final class SessionIdAnnouncingServletResponse extends ResponseWritingThrough {

	private final String announced;

	SessionIdAnnouncingServletResponse(ServerResponse delegate, String announced) {
		super(delegate);
		this.announced = announced;
	}

	@Override
	HttpServletResponse through(HttpServletResponse response) {
		return new HttpServletResponseWrapper(response) {

			@Override
			public void setHeader(String name, String value) {
				super.setHeader(name, announcedIfSessionId(name, value));
			}

			@Override
			public void addHeader(String name, String value) {
				super.addHeader(name, announcedIfSessionId(name, value));
			}

		};
	}

	private String announcedIfSessionId(String name, String value) {
		return McpHttpHeaders.SESSION_ID.equalsIgnoreCase(name) ? this.announced : value;
	}

}
