// GraphiQL over the gateway's own endpoint: HTTP for queries and mutations,
// graphql-ws (graphql-transport-ws) for subscriptions, with the headers pane's
// JSON sent as the websocket's connection_init payload.
(function () {
  const HEADERS_KEY = "gateway:graphiql-headers";
  const EXAMPLE = `# Products with their numbers over the last 24 hours.
# Put your token in the Headers pane: {"Authorization": "Bearer <token>"}
query Products {
  products(first: 10) {
    nodes {
      id
      name
      overview { totalEvents errorRate p95PageLoadTimeMs uniqueUsers }
    }
  }
}
`;
  const url = window.location.origin + "/graphql";
  const wsUrl = url.replace(/^http/, "ws");

  function storedHeaders() {
    try {
      return JSON.parse(localStorage.getItem(HEADERS_KEY) || "{}") || {};
    } catch (error) {
      return {};
    }
  }

  let headers = storedHeaders();
  const wsClient = graphqlWs.createClient({
    url: wsUrl,
    lazy: true,
    connectionParams: () => headers,
  });
  const fetcher = GraphiQL.createFetcher({ url: url, wsClient: wsClient });

  function onEditHeaders(text) {
    try {
      headers = JSON.parse(text || "{}") || {};
    } catch (error) {
      return; // half-typed JSON: keep the last valid headers
    }
    localStorage.setItem(HEADERS_KEY, JSON.stringify(headers));
  }

  function App() {
    const explorer = GraphiQLPluginExplorer.explorerPlugin();
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultQuery: EXAMPLE,
      defaultHeaders: JSON.stringify(headers, null, 2),
      onEditHeaders: onEditHeaders,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      defaultEditorToolsVisibility: "headers",
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(App));
})();
