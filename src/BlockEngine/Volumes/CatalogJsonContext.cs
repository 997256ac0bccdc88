using System.Text.Json.Serialization;

namespace NovaStor.BlockEngine.Volumes;

/// <summary>Source-generated JSON for the catalog: no reflection, stable property names.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(CatalogDocument))]
[JsonSerializable(typeof(CatalogHeader))]
[JsonSerializable(typeof(CatalogVersion1.Document))]
internal sealed partial class CatalogJsonContext : JsonSerializerContext;
