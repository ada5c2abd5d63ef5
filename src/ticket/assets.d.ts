/** Font files imported `with { type: "file" }` resolve to their path. */
declare module "*.ttf" {
  const path: string;
  export default path;
}
