// A small element builder: every text goes in as a text node, never as HTML.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// Put `children` in `node` in place of what it held, skipping what `el` skips (replaceChildren
// itself would write a null as the text "null").
export function fill(node, ...children) {
  node.replaceChildren(...children.flat(Infinity)
    .filter((child) => child !== undefined && child !== null && child !== false));
}

export function ms(value) {
  return `${Math.round(value || 0)} ms`;
}
